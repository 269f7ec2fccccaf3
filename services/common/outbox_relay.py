"""Publishes committed outbox rows to Kafka, in order, and stamps each with its partition/offset.

Delivery is at least once: a crash between Kafka's ack and the stamp's commit republishes the
batch, and consumers drop what they already applied by event id. A NOTIFY from ``append`` wakes
every instance's relay at once. A position report, the commonest write, does not NOTIFY: a
notifying commit takes a database-wide lock, so such commits are flushed one after another
(issue 9). Its process wakes its own relay (``wake``), and a relay that finds another instance's
relay in a batch tries again shortly, so the rows its process wrote meanwhile never wait for the
idle poll. The idle poll only covers a missed wake-up (or a lost listener).

The relay runs under a supervisor (``supervision.supervise``): while Kafka or PostgreSQL is away
each attempt fails and is tried again, the requests keep filling the outbox, and the backlog
drains when both are back. Each attempt opens a fresh producer, so no producer state (an
idempotence sequence broken by a broker restart) outlives a failure.
"""

import asyncio
import contextlib
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts.topics import ALL_TOPICS
from services.common.event_store import OUTBOX_CHANNEL
from services.common.kafka import ensure_topics, make_producer
from services.common.settings import ServiceSettings
from services.common.supervision import TaskHealth

log = logging.getLogger(__name__)

# One relay per database at a time: two would interleave an order's events on its partition.
RELAY_LOCK_KEY = 0x0B0C_5EA1
LOCKED_RETRY_S = 0.005
"""How soon a relay that found the lock taken tries again."""


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, settings: ServiceSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._wake = asyncio.Event()

    async def run(self, health: TaskHealth) -> None:
        """One attempt: connect to Kafka, then publish until something fails."""
        await ensure_topics(self._settings, ALL_TOPICS)
        producer = make_producer(self._settings)
        listener: asyncpg.Connection | None = None
        try:
            await producer.start()
            # A connection of its own, not the pool's: it lives as long as the attempt.
            listener = await asyncpg.connect(self._settings.database_url, timeout=5)
            await listener.add_listener(OUTBOX_CHANNEL, self.wake)
            while True:
                if listener.is_closed():
                    raise ConnectionError("the outbox listener lost its database connection")
                self._wake.clear()
                published = await self.publish_batch(producer)
                health.ok()
                if published == self._settings.relay_batch_size:
                    continue
                if published is None:
                    # The other relay's batch may have been read before this process's rows
                    # committed, and nothing would wake it for them.
                    await asyncio.sleep(LOCKED_RETRY_S)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.relay_idle_poll_s)
                    # Woken by a commit: let the commits of the next moments join it, so that a
                    # storm of position reports costs the relay one batch per few ms, not one
                    # transaction and one Kafka request per report (issue 9).
                    await asyncio.sleep(self._settings.relay_linger_s)
        finally:
            if listener is not None:
                listener.terminate()  # the connection may be the thing that broke
            await producer.stop()

    def wake(self, *_: object) -> None:
        """Rows were committed to the outbox (an asyncpg listener callback, or this process)."""
        self._wake.set()

    async def publish_batch(self, producer: AIOKafkaProducer) -> int | None:
        """Publish up to one batch of unpublished rows; returns how many were published, or
        ``None`` when another relay holds the lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_KEY):
                return None
            rows = await conn.fetch(
                """
                SELECT o.id, o.topic, o.key, e.body::text AS value
                FROM outbox o JOIN events e USING (event_id)
                WHERE o.published_at IS NULL
                ORDER BY o.id
                LIMIT $1
                """,
                self._settings.relay_batch_size,
            )
            if not rows:
                return 0
            pending = [
                await producer.send(
                    row["topic"], value=row["value"].encode(), key=row["key"].encode()
                )
                for row in rows
            ]
            delivered = await asyncio.gather(*pending)
            await conn.execute(
                """
                UPDATE outbox o SET published_at = now(), kafka_partition = d.p, kafka_offset = d.o
                FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS d (id, p, o)
                WHERE o.id = d.id
                """,
                [row["id"] for row in rows],
                [meta.partition for meta in delivered],
                [meta.offset for meta in delivered],
            )
            return len(rows)
