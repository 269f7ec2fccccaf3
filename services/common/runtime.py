"""What a running service holds (pool, producer, background tasks), started and stopped in one place."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from tenacity import AsyncRetrying, before_sleep_log, stop_after_delay, wait_exponential

from contracts.topics import ALL_TOPICS, DEAD_LETTERS, TopicSpec
from services.common.consumer import EventConsumer, Subscription
from services.common.db import create_pool, migrate
from services.common.kafka import ensure_topics, make_consumer, make_producer
from services.common.outbox_relay import OutboxRelay
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumes:
    group_id: str
    topics: tuple[TopicSpec, ...]
    subscription: Subscription


@dataclass
class Runtime:
    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def dead_tasks(self) -> list[str]:
        return [name for name, task in self.tasks.items() if task.done()]


async def _prepare(settings: ServiceSettings, migrations: Path) -> None:
    # The stack may still be coming up when a service starts: wait for it, for a while.
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(60),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    ):
        with attempt:
            await migrate(settings.database_url, migrations)
            await ensure_topics(settings, ALL_TOPICS)


@contextlib.asynccontextmanager
async def running(
    settings: ServiceSettings,
    migrations: Path,
    *,
    publishes: bool,
    consumes: Consumes | None = None,
) -> AsyncIterator[Runtime]:
    """Migrate, connect, start the outbox relay and the consumer; undo all of it on the way out."""
    await _prepare(settings, migrations)
    pool = await create_pool(settings.database_url)
    producer = make_producer(settings)
    await producer.start()
    runtime = Runtime(settings, pool, producer)
    consumer = None
    try:
        if publishes:
            relay = OutboxRelay(
                pool, producer, settings.relay_batch_size, settings.relay_idle_poll_s
            )
            runtime.tasks["outbox_relay"] = asyncio.create_task(relay.run(), name="outbox_relay")
        if consumes is not None:
            consumer = make_consumer(settings, consumes.topics, consumes.group_id)
            await consumer.start()
            loop = EventConsumer(
                pool, consumer, producer, settings.topic(DEAD_LETTERS), consumes.subscription
            )
            runtime.tasks["consumer"] = asyncio.create_task(loop.run(), name="consumer")
        yield runtime
    finally:
        for task in runtime.tasks.values():
            task.cancel()
        await asyncio.gather(*runtime.tasks.values(), return_exceptions=True)
        if consumer is not None:
            await consumer.stop()
        await producer.stop()
        await pool.close()
