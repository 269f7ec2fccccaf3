"""The consuming edge: Kafka in, one parse, one handler per event, dead letters for the rest.

Each event is applied in one PostgreSQL transaction together with its ``received_events`` row,
so a redelivered event (Kafka is at least once) finds its row and changes nothing. Offsets are
committed to Kafka only after the batch's transactions commit. A message that cannot be parsed or
applied goes to the dead-letter topic with the reason, and the consumer goes on; a database or
broker outage is not the message's fault, so it is retried instead.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential

from contracts import AnyEvent, parse_event
from services.common.clock import utc_now
from services.common.db import Connection

log = logging.getLogger(__name__)

Handler = Callable[[Connection, AnyEvent], Awaitable[None]]

TRANSIENT = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


@dataclass(frozen=True)
class Subscription:
    """What a service takes from its topics: which events, and what it does with each."""

    wants: Callable[[AnyEvent], bool]
    apply: Handler | None = None
    """Effects beyond keeping the event (kept in ``received_events``, the same transaction)."""


class EventConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        dead_letter_topic: str,
        subscription: Subscription,
    ) -> None:
        self._pool = pool
        self._consumer = consumer
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._subscription = subscription

    async def run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000, max_records=500)
            commits: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in batches.items():
                for record in records:
                    await self._process(record)
                commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
            if commits:
                await self._consumer.commit(commits)

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            await self._dead_letter(record, "unparseable: empty message")
            return
        try:
            event = parse_event(record.value)
        except ValidationError as err:
            await self._dead_letter(record, f"unparseable: {err}")
            return
        if not self._subscription.wants(event):
            return
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TRANSIENT),
                wait=wait_exponential(multiplier=0.2, max=10),
                before_sleep=before_sleep_log(log, logging.WARNING),
            ):
                with attempt:
                    await self._apply(record, event)
        except Exception as err:  # whatever this one message broke, the next ones still flow
            log.exception("cannot apply %s %s", event.event_type, event.event_id)
            await self._dead_letter(record, f"{type(err).__name__}: {err}")

    async def _apply(self, record: ConsumerRecord[bytes, bytes], event: AnyEvent) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                """
                INSERT INTO received_events (event_id, event_type, work_order_id, occurred_at,
                    recorded_at, topic, kafka_partition, kafka_offset, body)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (event_id) DO NOTHING
                RETURNING true
                """,
                event.event_id,
                event.event_type,
                getattr(event, "work_order_id", None),
                event.occurred_at,
                event.recorded_at,
                record.topic,
                record.partition,
                record.offset,
                event.model_dump(mode="json"),
            )
            if first_time and self._subscription.apply is not None:
                await self._subscription.apply(conn, event)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        log.error(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        headers = [
            ("dead_letter.reason", reason[:4000].encode()),
            ("dead_letter.topic", record.topic.encode()),
            ("dead_letter.partition", str(record.partition).encode()),
            ("dead_letter.offset", str(record.offset).encode()),
            ("dead_letter.at", utc_now().isoformat().encode()),
        ]
        await self._producer.send_and_wait(
            self._dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
