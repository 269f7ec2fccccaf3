"""PostgreSQL at the edge: the asyncpg pool and schema migrations (yoyo)."""

import asyncio
import json
from pathlib import Path

import asyncpg
from yoyo import get_backend, read_migrations

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A connection, whether held directly or borrowed from the pool."""

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own clean-up (which
    rolls back an open transaction and drops its listeners): nothing. The default would send
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` after every request, a round
    trip as long as a position report's whole statement (issue 9), to undo session state these
    services never leave on a pooled connection: their advisory locks are transaction-scoped
    (``pg_advisory_xact_lock``), they LISTEN on connections of their own, and SET nothing."""


async def create_pool(database_url: str, max_size: int = 10) -> asyncpg.Pool:
    # While PostgreSQL is away a request must fail fast (503, Retry-After), not wait a minute for
    # a connection: connect within 5 s, and no statement may run longer than 30 s.
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=max_size,
        init=_init_connection,
        timeout=5,
        command_timeout=30,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


def _apply_migrations(database_url: str, folders: tuple[Path, ...]) -> None:
    # yoyo speaks psycopg (sync); it takes a lock so concurrent starts apply each step once.
    backend = get_backend(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        migrations = read_migrations(*(str(f) for f in folders))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
    finally:
        backend.connection.close()


async def migrate(database_url: str, *service_folders: Path) -> None:
    """Bring the database to the newest schema: the shared event tables, then the service's own."""
    await asyncio.to_thread(_apply_migrations, database_url, (COMMON_MIGRATIONS, *service_folders))
