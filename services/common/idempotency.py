"""One way to be idempotent: a natural key, the first request and its answer, compared on retry.

Every keyed write (a call by its call id, a GPS unit's report by its report id) runs ``once``
inside the transaction that records its event (ADR 0006). The first post claims the key, does the
work and stores its answer; a concurrent duplicate waits on the key until the first commits. A
later post with the same request gets the stored answer (a replay); with another request it is
``AlreadyRecorded`` (409), naming the differing fields and, unless the scope is personal, showing
the first request. A refused first post rolls back with its claim, so a refusal never burns a key.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from domain.retries import require_same
from services.common.db import Connection

Req = TypeVar("Req", bound=BaseModel)
Ans = TypeVar("Ans", bound=BaseModel)


@dataclass(frozen=True)
class Scope(Generic[Req, Ans]):
    """Where a key is unique, how its first request and answer read back, what may be shown.

    ``personal``: the first request holds someone's personal data (a caller's name and phone),
    so a refusal names the differing fields only and never echoes the first request.
    """

    name: str
    noun: str
    request: TypeAdapter[Req]
    answer: TypeAdapter[Ans]
    personal: bool = False
    owner: str = ""

    def within(self, kind: str, owner_id: str) -> "Scope[Req, Ans]":
        """The same scope narrowed to one owner: report ids are unique per vehicle only."""
        return replace(self, name=f"{self.name}:{owner_id}", owner=f" of {kind} {owner_id!r}")


@dataclass(frozen=True)
class Answered(Generic[Ans]):
    """The answer, and whether it was stored by an earlier post with the same request."""

    body: Ans
    replay: bool


async def once(
    conn: Connection,
    scope: Scope[Req, Ans],
    key: str,
    request: Req,
    work: Callable[[], Awaitable[Ans]],
) -> Answered[Ans]:
    """``work()`` the first time ``key`` is posted in ``scope``; its stored answer on a retry.

    Call it inside the transaction that records the work's event, so that the key, the event and
    the answer commit together or not at all.
    """
    claimed = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (scope, key, request) VALUES ($1, $2, $3)
        ON CONFLICT (scope, key) DO NOTHING RETURNING true
        """,
        scope.name,
        key,
        scope.request.dump_python(request, mode="json"),
    )
    if claimed:
        answer = await work()
        await conn.execute(
            "UPDATE idempotency_keys SET answer = $3 WHERE scope = $1 AND key = $2",
            scope.name,
            key,
            scope.answer.dump_python(answer, mode="json"),
        )
        return Answered(answer, replay=False)
    answered = await stored(conn, scope, key, request)
    if answered is None:
        # The claim and the answer commit together; a claim without one is a bug, not a retry.
        raise RuntimeError(f"{scope.name} key {key!r} is claimed but holds no answer")
    return answered


async def stored(
    conn: Connection, scope: Scope[Req, Ans], key: str, request: Req
) -> Answered[Ans] | None:
    """The stored answer to ``key`` if it was posted before with the same ``request`` (a
    replay); ``AlreadyRecorded`` if with another; None if it was never posted (or its first
    post holds no answer yet, which a committed claim never does).

    For a write that claims its key and stores its answer in one statement of its own (a GPS
    unit's position report), so that only a retry reads the key back."""
    row = await conn.fetchrow(
        "SELECT request, answer FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope.name,
        key,
    )
    if row is None or row["answer"] is None:
        return None
    first = scope.request.validate_python(row["request"])
    require_same(
        f"{scope.noun} {key!r}{scope.owner} was already posted",
        first,
        request,
        personal=scope.personal,
    )
    return Answered(scope.answer.validate_python(row["answer"]), replay=True)
