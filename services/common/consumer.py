"""The consuming edge: Kafka in, one parse, one handler per event, dead letters for the rest.

Each event is applied in one PostgreSQL transaction together with its ``received_events`` row,
so a redelivered event (Kafka is at least once) finds its row and changes nothing. A subscription
that can (``apply_batch``: the timeline's projection) takes a partition's batch in one
transaction instead, with the effects of applying its events one at a time; should the batch
fail for a reason other than an outage, its events are applied one at a time, so that only the
one that cannot be applied goes to the dead-letter topic. Offsets are committed to Kafka only
after the batch's transactions commit.

Only a message that can never be applied goes to the dead-letter topic, with the reason: one
that does not parse, or whose handler refuses it. An outage of PostgreSQL or Kafka is nobody's
message's fault: the message is tried again until the outage ends, however long, and the task's
health says so meanwhile. A failed commit (a rebalance moved the partition to another instance)
loses nothing either: the new owner starts from the last committed offset and finds the
effects already applied.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from contracts import AnyEvent, parse_event
from contracts.topics import ALL_TOPICS, DEAD_LETTERS, TopicSpec
from services.common import logs, metrics
from services.common.clock import utc_now
from services.common.db import Connection
from services.common.failures import describe, is_transient
from services.common.kafka import ensure_topics, make_consumer, make_producer
from services.common.settings import ServiceSettings
from services.common.supervision import TaskHealth

log = logging.getLogger(__name__)

Handler = Callable[[Connection, AnyEvent], Awaitable[None]]
MAX_RECORDS = 2000
"""Records per poll: a backlog (a rebuild, a catch-up) goes in batches of up to this many."""


@dataclass(frozen=True)
class Consumed:
    """Where a consumed event sat in Kafka."""

    topic: str
    partition: int
    offset: int


LocatedHandler = Callable[[Connection, AnyEvent, Consumed], Awaitable[None]]
BatchHandler = Callable[[Connection, Sequence[tuple[AnyEvent, Consumed]]], Awaitable[None]]


def _always(_: AnyEvent) -> bool:
    return True


@dataclass(frozen=True)
class Subscription:
    """What a service takes from its topics: which events, and what it does with each."""

    wants: Callable[[AnyEvent], bool]
    apply: Handler | None = None
    """Effects beyond keeping the event (kept in ``received_events``, the same transaction)."""
    apply_at: LocatedHandler | None = None
    """Like ``apply``, and told where the event sat in Kafka (topic, partition, offset)."""
    apply_batch: BatchHandler | None = None
    """Instead of ``apply``/``apply_at``: the effects of several events of one partition, in
    offset order, redeliveries already left out, in one transaction; ``received_events`` rows are
    written after it returns. It must do exactly what applying them one by one would."""
    keeps: Callable[[AnyEvent], bool] = _always
    """Whether a wanted event gets its ``received_events`` row. One that does not (the
    timeline's clock ticks: many, and worthless once applied) is applied every time it comes,
    so its effect must be idempotent by itself."""


@dataclass(frozen=True)
class Consumes:
    group_id: str
    topics: tuple[TopicSpec, ...]
    subscription: Subscription


def without_input(err: ValidationError) -> str:
    """What is wrong and where, without the offending values: pydantic's own message echoes
    them (``input_value=``), and a message's values may be a caller's name and phone."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(body)'}: {e['msg']}"
        for e in err.errors(include_url=False, include_input=False, include_context=False)
    )
    return f"{err.error_count()} validation error(s) for {err.title}: {problems}"


class EventConsumer:
    def __init__(self, pool: asyncpg.Pool, settings: ServiceSettings, consumes: Consumes) -> None:
        self._pool = pool
        self._settings = settings
        self._consumes = consumes
        self._dead_letter_topic = settings.topic(DEAD_LETTERS)
        self._group = f"{settings.topic_prefix}{settings.consumer_group or consumes.group_id}"
        self._lag = metrics.LagNotes(settings.topic_prefix)

    async def run(self, health: TaskHealth) -> None:
        """One attempt: join the group, then apply batches until something fails."""
        await ensure_topics(self._settings, ALL_TOPICS)
        consumer = make_consumer(self._settings, self._consumes.topics, self._consumes.group_id)
        producer = make_producer(self._settings)  # for dead letters
        try:
            await producer.start()
            await consumer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                health.ok()
                commits: dict[TopicPartition, OffsetAndMetadata] = {}
                for tp, records in batches.items():
                    await self._process_all(records, producer, health)
                    commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
                if commits:
                    await self._commit(consumer, commits)
                await metrics.note_lag(consumer, self._lag)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _commit(
        self, consumer: AIOKafkaConsumer, commits: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        try:
            await consumer.commit(commits)
        except KafkaError as err:
            # The effects are committed in PostgreSQL; whoever reads these records again (this
            # instance after the outage, or the partition's new owner) finds them applied.
            log.warning(
                "offsets not committed (%s); the records will be redelivered", describe(err)
            )

    async def _process_all(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        producer: AIOKafkaProducer,
        health: TaskHealth,
    ) -> None:
        """One partition's records, in offset order."""
        subscription = self._consumes.subscription
        wanted = []
        for record in records:
            event = await self._parsed(record, producer)
            if event is not None and subscription.wants(event):
                wanted.append((record, event))
        if subscription.apply_batch is not None and len(wanted) > 1:
            try:
                await self._until_done(health, lambda: self._apply_batch(wanted))
                return
            except Exception as err:  # not transient: find the one that cannot be applied
                log.warning(
                    "a batch of %d from %s[%d] failed (%s); applying them one by one",
                    len(wanted),
                    records[0].topic,
                    records[0].partition,
                    describe(err),
                )
        for record, event in wanted:
            with logs.about(event):  # its log lines carry its work order and correlation ids
                await self._process(record, event, producer, health)

    async def _parsed(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer
    ) -> AnyEvent | None:
        """The record's event, or ``None`` once it has gone to the dead-letter topic."""
        if record.value is None:
            await self._dead_letter(record, producer, "unparseable: empty message")
            return None
        try:
            return parse_event(record.value)
        except ValidationError as err:
            await self._dead_letter(record, producer, f"unparseable: {without_input(err)}")
            return None

    async def _process(
        self,
        record: ConsumerRecord[bytes, bytes],
        event: AnyEvent,
        producer: AIOKafkaProducer,
        health: TaskHealth,
    ) -> None:
        try:
            await self._until_done(health, lambda: self._apply(record, event))
        except Exception as err:  # not transient: this message can never be applied
            log.exception("cannot apply %s %s", event.event_type, event.event_id)
            reason = without_input(err) if isinstance(err, ValidationError) else str(err)
            await self._dead_letter(record, producer, f"{type(err).__name__}: {reason}")

    async def _until_done(self, health: TaskHealth, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` again after every transient failure, for as long as the outage lasts."""

        def note(state: RetryCallState) -> None:
            err = state.outcome.exception() if state.outcome is not None else None
            if err is not None:
                health.retrying(err)
                log.warning("%s: %s; trying again", health.name, describe(err))

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=note,
            reraise=True,
        ):
            with attempt:
                await work()

    async def _apply(self, record: ConsumerRecord[bytes, bytes], event: AnyEvent) -> None:
        where = Consumed(record.topic, record.partition, record.offset)
        async with self._pool.acquire() as conn, conn.transaction():
            await apply_consumed(conn, self._consumes.subscription, event, where)

    async def _apply_batch(
        self, wanted: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent]]
    ) -> None:
        items = [(e, Consumed(r.topic, r.partition, r.offset)) for r, e in wanted]
        async with self._pool.acquire() as conn, conn.transaction():
            await apply_consumed_batch(conn, self._consumes.subscription, items)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer, reason: str
    ) -> None:
        """Park the message with the reason. Should the send fail, the error ends this attempt
        before the offset is committed: the supervisor starts afresh and the message comes again."""
        log.error(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        headers = [
            ("dead_letter.reason", reason[:4000].encode()),
            ("dead_letter.topic", record.topic.encode()),
            ("dead_letter.partition", str(record.partition).encode()),
            ("dead_letter.offset", str(record.offset).encode()),
            ("dead_letter.group", self._group.encode()),
            ("dead_letter.at", utc_now().isoformat().encode()),
        ]
        await asyncio.wait_for(
            producer.send_and_wait(
                self._dead_letter_topic, value=record.value, key=record.key, headers=headers
            ),
            timeout=30,
        )
        metrics.dead_lettered(record.topic, self._settings.topic_prefix)


async def record_received(conn: Connection, event: AnyEvent, where: Consumed) -> bool:
    """Keep the event in ``received_events``; ``False`` when it was already there (a redelivery)."""
    first_time: bool | None = await conn.fetchval(
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
        where.topic,
        where.partition,
        where.offset,
        event.model_dump(mode="json"),
    )
    return bool(first_time)


async def apply_consumed(
    conn: Connection, subscription: Subscription, event: AnyEvent, where: Consumed
) -> None:
    """What the consumer does with one wanted event, inside the caller's transaction (a rebuild
    from offset 0 calls it too, so that it does exactly what the live consumer did)."""
    if subscription.apply_batch is not None:
        await apply_consumed_batch(conn, subscription, [(event, where)])
        return
    first_time = await record_received(conn, event, where) if subscription.keeps(event) else True
    if not first_time:
        return
    if subscription.apply is not None:
        await subscription.apply(conn, event)
    if subscription.apply_at is not None:
        await subscription.apply_at(conn, event, where)


async def apply_consumed_batch(
    conn: Connection, subscription: Subscription, items: Sequence[tuple[AnyEvent, Consumed]]
) -> None:
    """``apply_consumed`` for several events of one partition, in offset order, through the
    subscription's ``apply_batch``: redeliveries (already in ``received_events``, or twice in
    ``items``) are left out, the rest applied, then kept."""
    assert subscription.apply_batch is not None
    kept = [e.event_id for e, _ in items if subscription.keeps(e)]
    seen = {
        r[0]
        for r in await conn.fetch(
            "SELECT event_id FROM received_events WHERE event_id = ANY($1::uuid[])", kept
        )
    }
    fresh = []
    for event, where in items:
        if subscription.keeps(event):
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
        fresh.append((event, where))
    await subscription.apply_batch(conn, fresh)
    await conn.executemany(
        """
        INSERT INTO received_events (event_id, event_type, work_order_id, occurred_at,
            recorded_at, topic, kafka_partition, kafka_offset, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)
        """,
        [
            (
                e.event_id,
                e.event_type,
                getattr(e, "work_order_id", None),
                e.occurred_at,
                e.recorded_at,
                w.topic,
                w.partition,
                w.offset,
                e.to_json().decode(),
            )
            for e, w in fresh
            if subscription.keeps(e)
        ],
    )
