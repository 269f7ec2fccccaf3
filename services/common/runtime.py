"""What a running service holds (pool, supervised background tasks), started and stopped in one place.

A service needs PostgreSQL to start (it applies its migrations and takes writes into its outbox),
but not Kafka: the relay and the consumer connect to Kafka inside their supervised tasks, so a
service comes up while the broker is away and catches up when it returns.
"""

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from contracts import AnyEvent
from contracts.topics import ACCESS
from services.common import stalls
from services.common import tokens as access_tokens
from services.common.consumer import Consumed, Consumes, EventConsumer, Subscription
from services.common.db import Connection, create_pool, migrate
from services.common.failures import is_transient
from services.common.outbox_relay import OutboxRelay
from services.common.settings import ServiceSettings
from services.common.supervision import Body, TaskHealth, supervise
from services.common.tokens import TokenTable

log = logging.getLogger(__name__)

TaskFactory = Callable[[asyncpg.Pool, ServiceSettings], Body]
"""Makes a background task's body (run under ``supervise``) from the pool and the settings."""

EXIT_TASK_FAILED = 70  # EX_SOFTWARE: the supervisor should start a fresh process
_GRACE_S = 30.0


@dataclass
class Runtime:
    settings: ServiceSettings
    pool: asyncpg.Pool
    tokens: TokenTable
    health: dict[str, TaskHealth] = field(default_factory=dict)
    failed_task: str | None = None
    migrations: tuple[Path, ...] = ()
    """The service's own migration folders (the shared ones are ``db.COMMON_MIGRATIONS``)."""
    on_outbox_written: list[Callable[[], None]] = field(default_factory=list)
    """Told by ``outbox_written``: the relay, and whatever else watches this process's writes."""

    def outbox_written(self) -> None:
        """A commit that does not NOTIFY wrote outbox rows (a position report): wake this
        process's relay and watchers, without the database-wide lock a NOTIFY takes."""
        for wake in self.on_outbox_written:
            wake()

    def stop_process(self, task: str) -> None:
        """A background task cannot go on: shut down (gracefully, else hard) and exit non-zero."""
        if self.failed_task is None:
            self.failed_task = task
            os.kill(os.getpid(), signal.SIGTERM)  # the server's own graceful shutdown
            asyncio.get_running_loop().call_later(_GRACE_S, os._exit, EXIT_TASK_FAILED)


async def _migrate(settings: ServiceSettings, migrations: Path) -> None:
    # The stack may still be coming up when a service starts: wait for PostgreSQL, for a while.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(60),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    ):
        with attempt:
            await migrate(settings.database_url, migrations)


def _with_access(consumes: Consumes | None) -> Consumes:
    """Every service consumes the access tokens too, into its own table, beside its own topics.

    The service's subscription is kept whole (``dataclasses.replace``): token events go to
    ``tokens.apply``, every other event to the service's own handlers, as before."""
    if consumes is None:
        return Consumes(
            "access", (ACCESS,), Subscription(wants=access_tokens.wanted, apply=access_tokens.apply)
        )
    own = consumes.subscription

    def wants(event: AnyEvent) -> bool:
        return access_tokens.wanted(event) or own.wants(event)

    def keeps(event: AnyEvent) -> bool:
        return access_tokens.wanted(event) or own.keeps(event)

    async def apply(conn: Connection, event: AnyEvent) -> None:
        if access_tokens.wanted(event):
            await access_tokens.apply(conn, event)
        elif own.apply is not None:
            await own.apply(conn, event)

    async def apply_at(conn: Connection, event: AnyEvent, where: Consumed) -> None:
        if not access_tokens.wanted(event) and own.apply_at is not None:
            await own.apply_at(conn, event, where)

    async def apply_batch(conn: Connection, items: Sequence[tuple[AnyEvent, Consumed]]) -> None:
        for event, _ in items:
            if access_tokens.wanted(event):
                await access_tokens.apply(conn, event)
        assert own.apply_batch is not None
        await own.apply_batch(conn, [(e, w) for e, w in items if not access_tokens.wanted(e)])

    subscription = replace(
        own,
        wants=wants,
        keeps=keeps,
        apply=apply,  # the tokens', then the service's own
        apply_at=apply_at if own.apply_at is not None else None,
        apply_batch=apply_batch if own.apply_batch is not None else None,
    )
    topics = consumes.topics if ACCESS in consumes.topics else (*consumes.topics, ACCESS)
    return replace(consumes, topics=topics, subscription=subscription)


YOUNG_COLLECTION_AFTER = 50_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""


def settle_collector() -> None:
    """What is built at start-up (modules, schemas, the app) is never garbage: frozen, the
    collector stops tracing it again and again; and the young generation is collected after
    50,000 allocations rather than 700. Each collection then does more at once, far less often:
    with 5,000 orders held in memory, every few collections traced them all again (issue 9: a
    rebuild of 600,000 events went from 2,457 to about 3,000 events/s, and the tails of ingest
    and e2e fell)."""
    gc.collect()  # what is garbage already goes now; frozen, it would never go
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, oldest)


@contextlib.asynccontextmanager
async def running(
    settings: ServiceSettings,
    migrations: Path,
    *,
    publishes: bool,
    consumes: Consumes | None = None,
    tasks: Mapping[str, TaskFactory] | None = None,
) -> AsyncIterator[Runtime]:
    """Migrate, connect, start the supervised relay, consumer and the service's own ``tasks``
    (each made from the pool and the settings); undo all of it on the way out."""
    await _migrate(settings, migrations)
    pool = await create_pool(settings.database_url, settings.db_pool_size)
    runtime = Runtime(
        settings, pool, TokenTable(pool, settings.token_cache_ttl_s), migrations=(migrations,)
    )
    consumes = _with_access(consumes)
    bodies: dict[str, Body] = {}
    if publishes:
        relay = OutboxRelay(pool, settings)
        runtime.on_outbox_written.append(relay.wake)
        bodies["outbox_relay"] = relay.run
    bodies["consumer"] = EventConsumer(pool, settings, consumes).run
    bodies["loop_watch"] = stalls.watch_loop
    for name, make in (tasks or {}).items():
        bodies[name] = make(pool, settings)
    running_tasks = []
    for name, body in bodies.items():
        health = runtime.health[name] = TaskHealth(name)
        running_tasks.append(
            asyncio.create_task(supervise(health, body, runtime.stop_process), name=name)
        )
    settle_collector()
    stalls.time_collections()
    try:
        yield runtime
    finally:
        for task in running_tasks:
            task.cancel()
        await asyncio.gather(*running_tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except TimeoutError:
            pool.terminate()
        if runtime.failed_task is not None:
            log.critical("exiting: %s could not go on", runtime.failed_task)
            os._exit(EXIT_TASK_FAILED)
