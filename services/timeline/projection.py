"""The per-order projection, kept in the transaction of the consumed events (ADR 0010, 0012).

Every partition of the work-orders topic has a recorded clock: the latest ``ClockTicked`` or
event ``recorded_at`` seen there. An order is judged (by the one judge) at its partition's clock
whenever one of its events arrives, and again at a tick once a running segment reaches its limit;
a network incident re-judges the orders it may concern at their own stored clocks. Nothing here
reads the wall clock, so a rebuild from offset 0 reproduces the live rows and breaches exactly.

A batch of one partition is applied in one transaction, event by event, with the very effects
applying them one at a time would have (ADR 0012). What it saves is repetition: the orders it
touches are read once (or come from ``OrderMemory``), each event is parsed once, the clock moves
in memory, and the rows are written together at the end or before anything reads them back.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from contracts import AnyEvent, NetworkIncidentRecorded, WorkOrderEvent, parse_event
from contracts.clock import ClockTicked
from contracts.findings import SegmentBreached, SegmentBreachedPayload
from contracts.registry import WorkOrderEventT
from domain.findings import LiveBreach, ProjectionRow, breach_event_id, live_breaches
from domain.findings import projection_row as row_of
from domain.policy import Point, PolicyBook
from domain.timeline import Timeline
from services.common.consumer import Consumed, Subscription
from services.common.db import Connection
from services.common.event_store import append, stream_version
from services.timeline import store
from services.timeline.judging import judged
from services.timeline.memory import IncidentBook, Order, OrderMemory

SOURCE = "timeline"
INCIDENT_IDS = f"SELECT event_id FROM received_events WHERE {store.INCIDENTS}"
ORDERS_REMEMBERED = 5_000
"""Orders kept parsed between batches (about 3 kB an event, 25 kB an order: some 130 MB): those
under way at once on a storm day of 110,000 orders. The least recently used go first, so a
finished order leaves room for the new ones; one that comes back is read again."""


def subscription(
    topic_prefix: str,
    work_orders_topic: str,
    book: PolicyBook,
    remembered: int = ORDERS_REMEMBERED,
) -> Subscription:
    """What the timeline takes from its topics: order events and incidents are kept in
    ``received_events``; ticks are only applied (a tick not later than the clock is a no-op)."""
    projector = Projector(Context(topic_prefix, work_orders_topic, book), OrderMemory(remembered))
    return Subscription(wants=wanted, keeps=kept, apply_batch=projector.apply)


def wanted(event: AnyEvent) -> bool:
    return isinstance(event, WorkOrderEvent | NetworkIncidentRecorded | ClockTicked)


def kept(event: AnyEvent) -> bool:
    return not isinstance(event, ClockTicked)


@dataclass(frozen=True)
class Context:
    """What the projection needs besides the events: where it publishes, which topic ticks,
    and the policies it judges by."""

    topic_prefix: str
    ticks_topic: str
    book: PolicyBook


@dataclass
class Clock:
    """A partition's row of ``partition_clocks`` as this batch leaves it."""

    at: datetime | None
    last_offset: int | None
    moved: bool = False


class Projector:
    """Applies batches; remembers orders and incidents between them."""

    def __init__(self, ctx: Context, memory: OrderMemory) -> None:
        self.ctx = ctx
        self.memory = memory
        self.incidents = IncidentBook()

    async def apply(self, conn: Connection, items: Sequence[tuple[AnyEvent, Consumed]]) -> None:
        """The projection's effects of ``items`` (one partition's, in offset order, already
        filtered of redeliveries), in the consumer's transaction."""
        batch = Batch(conn, self.ctx, self.memory, self.incidents)
        await batch.open(items)
        for event, where in items:
            await batch.apply(event, where)
        await batch.close()


@dataclass
class Batch:
    """One transaction's worth of projection work."""

    conn: Connection
    ctx: Context
    memory: OrderMemory
    incidents: IncidentBook
    clocks: dict[int, Clock] = field(default_factory=dict)
    pending: dict[UUID, tuple[Timeline, Order]] = field(default_factory=dict)
    """Judgements whose rows are not yet written: only the last one of an order counts, so
    its row (and the hash of its whole answer) is made only when written."""

    async def open(self, items: Sequence[tuple[AnyEvent, Consumed]]) -> None:
        stored = await self.conn.fetch(
            "SELECT kafka_partition, clock, last_offset FROM partition_clocks"
        )
        self.clocks = {r[0]: Clock(r[1], r[2]) for r in stored}
        partitions = {w.partition for _, w in items if w.topic == self.ctx.ticks_topic}
        self.memory.trust({p: c.last_offset for p, c in self.clocks.items()}, partitions)
        await self._read_incidents()
        unknown = {
            e.work_order_id
            for e, _ in items
            if isinstance(e, WorkOrderEvent) and self.memory.get(e.work_order_id) is None
        }
        partition_of = {
            e.work_order_id: w.partition for e, w in items if isinstance(e, WorkOrderEvent)
        }
        for work_order_id, order in (await _read_orders(self.conn, unknown, partition_of)).items():
            self.memory.keep(work_order_id, order)

    async def apply(self, event: AnyEvent, where: Consumed) -> None:
        if isinstance(event, ClockTicked):
            if where.topic == self.ctx.ticks_topic:
                await self._ticked(event.payload.at, event.event_id, where)
        elif isinstance(event, NetworkIncidentRecorded):
            await self._incident(event)
        elif isinstance(event, WorkOrderEvent):
            clock = self._advance(where, event.recorded_at)
            order = await self._order(event.work_order_id, where.partition)
            order.add(event)
            await self._rejudge(event.work_order_id, order, clock, event.event_id)

    async def close(self) -> None:
        await self._flush()
        moved = [(p, c.at, c.last_offset) for p, c in self.clocks.items() if c.moved]
        await self.conn.executemany(
            """
            INSERT INTO partition_clocks (kafka_partition, clock, last_offset) VALUES ($1, $2, $3)
            ON CONFLICT (kafka_partition) DO UPDATE
                SET clock = greatest(partition_clocks.clock, excluded.clock),
                    last_offset = greatest(partition_clocks.last_offset, excluded.last_offset)
            """,
            moved,
        )
        for partition, _, last_offset in moved:
            assert last_offset is not None
            self.memory.written(partition, last_offset)

    def _advance(self, where: Consumed, seen: datetime) -> datetime:
        """Move the partition's clock to ``seen`` if later; returns the clock."""
        clock = self.clocks.setdefault(where.partition, Clock(None, None))
        clock.at = seen if clock.at is None else max(clock.at, seen)
        clock.last_offset = (
            where.offset if clock.last_offset is None else max(clock.last_offset, where.offset)
        )
        clock.moved = True
        return clock.at

    async def _order(self, work_order_id: UUID, partition: int) -> Order:
        order = self.memory.get(work_order_id)
        if order is None:
            read = await _read_orders(self.conn, {work_order_id}, {work_order_id: partition})
            order = read[work_order_id]
            self.memory.keep(work_order_id, order)
        return order

    async def _read_incidents(self) -> None:
        rows = await self.conn.fetch(INCIDENT_IDS)
        new = [r[0] for r in rows if r[0] not in self.incidents]
        if new:
            bodies = await self.conn.fetch(
                "SELECT body::text FROM received_events WHERE event_id = ANY($1::uuid[])", new
            )
            for body in bodies:
                self.incidents.add(NetworkIncidentRecorded.from_json(body[0]))

    async def _ticked(self, at: datetime, tick_id: UUID, where: Consumed) -> None:
        before = self.clocks.get(where.partition, Clock(None, None)).at
        clock = self._advance(where, at)
        if before is not None and clock <= before:
            return  # a tick not later than the partition's clock (another instance's): nothing new
        await self._flush()
        due = await self.conn.fetch(
            """
            SELECT work_order_id FROM order_projection
            WHERE kafka_partition = $1 AND next_due_at <= $2 ORDER BY work_order_id
            """,
            where.partition,
            clock,
        )
        for row in due:
            order = await self._order(row[0], where.partition)
            await self._rejudge(row[0], order, clock, tick_id)

    async def _incident(self, event: NetworkIncidentRecorded) -> None:
        """Every order judged at a clock that includes the incident (by its ``recorded_at``) is
        judged again at its own stored clock, now with the incident: the final rows then do not
        depend on how the two topics interleaved. Orders judged earlier never see it. The set is
        small: an incident is recorded moments before it is consumed, and only orders judged in
        between (or, on a rebuild, read before it) are in it; which of them it concerns is the
        judge's business, not a filter's here. Their events are read afresh: another instance
        may own their partitions."""
        self.incidents.add(event)
        await self._flush()
        rows = await self.conn.fetch(
            """
            SELECT work_order_id, kafka_partition, judged_at FROM order_projection
            WHERE judged_at >= $1 ORDER BY work_order_id
            """,
            event.recorded_at,
        )
        partitions = {r[0]: r[1] for r in rows}
        read = await _read_orders(self.conn, set(partitions), partitions)
        for work_order_id, _, judged_at in rows:
            self.memory.forget(work_order_id)
            await self._rejudge(work_order_id, read[work_order_id], judged_at, event.event_id)
        await self._flush()

    async def _rejudge(
        self, work_order_id: UUID, order: Order, clock: datetime, cause: UUID
    ) -> None:
        """Judge the order at ``clock``: its row (written later), its live breaches (now)."""
        if not order.events:
            return
        timeline = judged(
            work_order_id, order.events, self.ctx.book, clock, self.incidents.as_of(clock)
        )
        self.pending[work_order_id] = (timeline, order)
        await _store_breaches(self.conn, timeline, order, cause, self.ctx.topic_prefix)

    async def _flush(self) -> None:
        if self.pending:
            await _store_rows(self.conn, [(row_of(t), order) for t, order in self.pending.values()])
            self.pending.clear()


async def _read_orders(
    conn: Connection, work_order_ids: set[UUID], partition_of: dict[UUID, int]
) -> dict[UUID, Order]:
    """The orders' events as ``store.order_events`` reads them, and their breach rows."""
    found = {wo: Order(partition_of[wo]) for wo in work_order_ids}
    if not found:
        return found
    ids = list(found)
    for wo, body in await conn.fetch(
        """
        SELECT work_order_id, body::text FROM received_events
        WHERE work_order_id = ANY($1::uuid[]) ORDER BY recorded_at, event_id
        """,
        ids,
    ):
        event = parse_event(body)
        if isinstance(event, WorkOrderEvent):
            found[wo].events.append(event)
    for wo, event_id, status in await conn.fetch(
        "SELECT work_order_id, event_id, status FROM breaches WHERE work_order_id = ANY($1::uuid[])",
        ids,
    ):
        found[wo].breaches[event_id] = status == "open"
    return found


async def _store_rows(conn: Connection, rows: list[tuple[ProjectionRow, Order]]) -> None:
    """Each order's projection row, and those of its segment rows that changed: a segment ended
    (or not yet begun) keeps its row from one judgement to the next, and most of an order's
    seven are such, so writing them again would be most of the rows a batch writes."""
    projected, changed = [], []
    for row, order in rows:
        a_at, department = row.points.get(Point.A), order.department()
        projected.append(
            (
                row.work_order_id,
                order.partition,
                row.judged_at,
                row.policy_version,
                department,
                *(row.points.get(p) for p in Point),
                row.total_s,
                row.total_status.value,
                row.next_due_at,
                row.hash,
            )
        )
        for s in row.segments:
            values = (
                row.work_order_id,
                s.segment.value,
                a_at,
                department,
                s.status.value,
                None if s.responsible is None else s.responsible.value,
                s.duration_s,
                s.ended,
                s.limit_s,
            )
            if order.segments_written.get(s.segment.value) != values:
                order.segments_written[s.segment.value] = values
                changed.append(values)
    await conn.executemany(
        """
        INSERT INTO order_projection (work_order_id, kafka_partition, judged_at, policy_version,
            department, a_at, b_at, c_at, d_at, e_at, f_at, g_at, h_at, total_s, total_status,
            next_due_at, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
        ON CONFLICT (work_order_id) DO UPDATE SET
            kafka_partition = excluded.kafka_partition, judged_at = excluded.judged_at,
            policy_version = excluded.policy_version, department = excluded.department,
            a_at = excluded.a_at, b_at = excluded.b_at, c_at = excluded.c_at,
            d_at = excluded.d_at, e_at = excluded.e_at, f_at = excluded.f_at,
            g_at = excluded.g_at, h_at = excluded.h_at, total_s = excluded.total_s,
            total_status = excluded.total_status, next_due_at = excluded.next_due_at,
            hash = excluded.hash
        """,
        projected,
    )
    if changed:
        await conn.executemany(
            """
            INSERT INTO order_segments (work_order_id, segment, a_at, department, status,
                responsible, duration_s, ended, limit_s)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (work_order_id, segment) DO UPDATE SET
                a_at = excluded.a_at, department = excluded.department, status = excluded.status,
                responsible = excluded.responsible, duration_s = excluded.duration_s,
                ended = excluded.ended, limit_s = excluded.limit_s
            """,
            changed,
        )


async def _store_breaches(
    conn: Connection, timeline: Timeline, order: Order, cause: UUID, topic_prefix: str
) -> None:
    """Record each new live breach once (its event to the findings topic); close the open
    breaches of the order that no longer run (their end point arrived, or the order moved on).
    ``order.breaches`` holds every breach row of the order, so most judgements write nothing."""
    work_order_id = timeline.work_order_id
    live = live_breaches(timeline)
    ids = [breach_event_id(work_order_id, b.segment, b.attempt) for b in live]
    ended = [i for i, is_open in order.breaches.items() if is_open and i not in ids]
    if ended:
        await conn.execute(
            "UPDATE breaches SET status = 'closed', closed_at = $2 WHERE event_id = ANY($1::uuid[])",
            ended,
            timeline.as_of,
        )
        order.breaches.update(dict.fromkeys(ended, False))
    for breach, event_id in zip(live, ids, strict=True):
        if event_id in order.breaches:
            continue  # already recorded: still open, or closed once and never reopened
        inserted = await conn.fetchval(
            """
            INSERT INTO breaches (event_id, work_order_id, segment, attempt, responsible,
                limit_s, started_at, breached_at, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')
            ON CONFLICT DO NOTHING RETURNING true
            """,
            event_id,
            work_order_id,
            breach.segment.value,
            breach.attempt,
            None if breach.responsible is None else breach.responsible.value,
            breach.limit_s,
            breach.started_at,
            breach.breached_at,
        )
        if not inserted:  # another instance's, meanwhile (a rebalance): as it left it
            status = await conn.fetchval(
                "SELECT status FROM breaches WHERE event_id = $1", event_id
            )
            order.breaches[event_id] = status == "open"
            continue
        order.breaches[event_id] = True
        await _publish(conn, timeline, order.events, breach, event_id, cause, topic_prefix)


async def _publish(
    conn: Connection,
    timeline: Timeline,
    events: list[WorkOrderEventT],
    breach: LiveBreach,
    event_id: UUID,
    cause: UUID,
    topic_prefix: str,
) -> None:
    # Both clocks are recorded ones (the breach instant, the partition clock that saw it), so a
    # rebuild writes the very same event.
    event = SegmentBreached(
        event_id=event_id,
        occurred_at=breach.breached_at,
        recorded_at=timeline.as_of,
        source=SOURCE,
        correlation_id=events[0].correlation_id,
        causation_id=cause,
        work_order_id=timeline.work_order_id,
        payload=SegmentBreachedPayload(
            segment=breach.segment.value,
            attempt=breach.attempt,
            responsible=None if breach.responsible is None else breach.responsible.value,
            limit_s=breach.limit_s,
            started_at=breach.started_at,
            breached_at=breach.breached_at,
            policy_version=timeline.policy_version,
            evidence=None if breach.evidence is None else breach.evidence[:2000],
        ),
    )
    stream = f"findings-{timeline.work_order_id}"
    version = await stream_version(conn, stream)
    await append(conn, stream, version, [event], topic_prefix)
