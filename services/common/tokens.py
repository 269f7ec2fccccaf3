"""Bearer tokens: their shape, their hash, and the table every service keeps of them.

A token is ``rd_<token_id>_<secret>``: the id (12 lowercase letters and digits) is public and
names the token in events, logs and ``tools.tokens list``; the secret is 32 random bytes. Only
the SHA-256 of the whole token is published and stored: the secret has 256 bits, so a plain
hash cannot be brute-forced and needs no salt or key.
"""

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import asyncpg

from contracts import AnyEvent
from contracts.access import Role, TokenIssued, TokenRevoked
from domain.access import Principal
from services.common.db import Connection
from services.common.failures import is_transient

PREFIX = "rd"
_SHAPE = re.compile(r"^rd_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_FETCH_TIMEOUT_S = 1.0
"""A lookup waits no longer while PostgreSQL is slow or away; the cached answer stands in."""
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_token() -> tuple[str, str]:
    """A fresh ``(token_id, token)``."""
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    return token_id, f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """The only form of a token that is ever published or stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The token's public id, or ``None`` when it does not have a token's shape."""
    match = _SHAPE.match(token)
    return match.group(1) if match else None


_KINDS = frozenset({TokenIssued, TokenRevoked})


def wanted(event: AnyEvent) -> bool:
    # Asked of every event every service consumes: a set lookup, not pydantic's ABC isinstance.
    return type(event) in _KINDS


async def apply(conn: Connection, event: AnyEvent) -> None:
    """Keep an issued or revoked token in the service's table (the consumer's transaction)."""
    if isinstance(event, TokenIssued):
        p = event.payload
        await conn.execute(
            """
            INSERT INTO access_tokens (token_id, token_hash, role, repair_center_id, vehicle_id,
                expires_at, issued_by, issued_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (token_id) DO NOTHING
            """,
            p.token_id,
            p.token_hash,
            p.role.value,
            p.repair_center_id,
            p.vehicle_id,
            p.expires_at,
            p.issued_by,
            event.occurred_at,
        )
    elif isinstance(event, TokenRevoked):
        await conn.execute(
            """
            INSERT INTO access_revocations (token_id, revoked_at, revoked_by)
            VALUES ($1, $2, $3) ON CONFLICT (token_id) DO NOTHING
            """,
            event.payload.token_id,
            event.occurred_at,
            event.payload.revoked_by,
        )


@dataclass(frozen=True)
class Known:
    """A token as the table has it (``None`` principal: unknown, or revoked)."""

    token_hash: str
    principal: Principal
    revoked: bool


@dataclass
class _Entry:
    known: Known | None
    fetched_at: float


class TokenTable:
    """Looks a token up by its id, with a short-lived cache in front of PostgreSQL.

    A hit is trusted for ``ttl_s`` (so a revocation takes effect within it, once consumed);
    an unknown id is remembered for a shorter while (a token just issued is still on its way).
    While PostgreSQL is away, the last answer is used however old: the service could not learn
    of a revocation then anyway, and the writes it lets through still need the database.
    """

    def __init__(self, pool: asyncpg.Pool, ttl_s: float, miss_ttl_s: float = 0.3) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._cache: dict[str, _Entry] = {}

    async def find(self, token_id: str) -> Known | None:
        entry = self._cache.get(token_id)
        now = time.monotonic()
        if entry is not None:
            ttl = self._ttl_s if entry.known is not None else self._miss_ttl_s
            if now - entry.fetched_at < ttl:
                return entry.known
        try:
            known = await self._fetch(token_id)
        except Exception as err:
            if entry is not None and is_transient(err):
                return entry.known
            raise
        if len(self._cache) > 10_000:  # a flood of made-up ids must not grow memory unbounded
            self._cache.clear()
        self._cache[token_id] = _Entry(known, now)
        return known

    async def _fetch(self, token_id: str) -> Known | None:
        async with asyncio.timeout(_FETCH_TIMEOUT_S):
            row = await self._fetch_row(token_id)
        if row is None:
            return None
        principal = Principal(
            token_id=token_id,
            role=Role(row["role"]),
            expires_at=row["expires_at"],
            repair_center_id=row["repair_center_id"],
            vehicle_id=row["vehicle_id"],
        )
        return Known(row["token_hash"], principal, row["revoked"])

    async def _fetch_row(self, token_id: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """
            SELECT t.token_hash, t.role, t.repair_center_id, t.vehicle_id, t.expires_at,
                   r.token_id IS NOT NULL AS revoked
            FROM access_tokens t LEFT JOIN access_revocations r USING (token_id)
            WHERE t.token_id = $1
            """,
            token_id,
        )


def matches(known: Known, token: str) -> bool:
    return hmac.compare_digest(known.token_hash, token_hash(token))
