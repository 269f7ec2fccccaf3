"""Publishes committed outbox rows to Kafka, in order, and stamps each with its partition/offset.

Delivery is at least once: a crash between Kafka's ack and the stamp's commit republishes the
batch, and consumers drop what they already applied by event id. A NOTIFY from ``append`` wakes
the relay at once; the idle poll only covers a missed notification.
"""

import asyncio
import contextlib
import logging

import asyncpg
from aiokafka import AIOKafkaProducer
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential

from services.common.event_store import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

# One relay per database at a time: two would interleave an order's events on its partition.
RELAY_LOCK_KEY = 0x0B0C_5EA1


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        batch_size: int,
        idle_poll_s: float,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = await self._pool.acquire()
        await listener.add_listener(OUTBOX_CHANNEL, self._notified)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential(multiplier=0.2, max=10),
                before_sleep=before_sleep_log(log, logging.WARNING),
            ):
                with attempt:
                    await self._loop()
        finally:
            await listener.remove_listener(OUTBOX_CHANNEL, self._notified)
            await self._pool.release(listener)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            if await self.publish_batch() == self._batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_poll_s)

    async def publish_batch(self) -> int:
        """Publish up to one batch of unpublished rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_KEY):
                return 0
            rows = await conn.fetch(
                """
                SELECT o.id, o.topic, o.key, e.body::text AS value
                FROM outbox o JOIN events e USING (event_id)
                WHERE o.published_at IS NULL
                ORDER BY o.id
                LIMIT $1
                """,
                self._batch_size,
            )
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row["topic"], value=row["value"].encode(), key=row["key"].encode()
                )
                for row in rows
            ]
            delivered = await asyncio.gather(*pending)
            await conn.executemany(
                """
                UPDATE outbox SET published_at = now(), kafka_partition = $2, kafka_offset = $3
                WHERE id = $1
                """,
                [
                    (row["id"], meta.partition, meta.offset)
                    for row, meta in zip(rows, delivered, strict=True)
                ],
            )
            return len(rows)
