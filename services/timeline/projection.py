"""The per-order projection, kept in the transaction of each consumed event (ADR 0010).

Every partition of the work-orders topic has a recorded clock: the latest ``ClockTicked`` or
event ``recorded_at`` seen there. An order is judged (by the one judge) at its partition's clock
whenever one of its events arrives, and again at a tick once a running segment reaches its limit;
a network incident re-judges the orders it may concern at their own stored clocks. Nothing here
reads the wall clock, so a rebuild from offset 0 reproduces the live rows and breaches exactly.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts import (
    AnyEvent,
    NetworkIncidentRecorded,
    WorkOrderEvent,
    WorkOrderIssued,
)
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

SOURCE = "timeline"


def subscription(topic_prefix: str, work_orders_topic: str, book: PolicyBook) -> Subscription:
    """What the timeline takes from its topics: order events and incidents are kept in
    ``received_events``; ticks are only applied (a tick not later than the clock is a no-op)."""

    async def apply_at(conn: Connection, event: AnyEvent, where: Consumed) -> None:
        await apply(conn, event, where, Context(topic_prefix, work_orders_topic, book))

    return Subscription(wants=wanted, apply_at=apply_at, keeps=kept)


def wanted(event: AnyEvent) -> bool:
    return isinstance(event, WorkOrderEvent | NetworkIncidentRecorded | ClockTicked)


def kept(event: AnyEvent) -> bool:
    return not isinstance(event, ClockTicked)


@dataclass(frozen=True)
class Context:
    """What the projection needs besides the event: where it publishes, which topic ticks,
    and the policies it judges by."""

    topic_prefix: str
    ticks_topic: str
    book: PolicyBook


async def apply(conn: Connection, event: AnyEvent, where: Consumed, ctx: Context) -> None:
    """The projection's effect of one consumed event, in the consumer's transaction."""
    if isinstance(event, ClockTicked):
        if where.topic == ctx.ticks_topic:
            await _ticked(conn, event.payload.at, event.event_id, where, ctx)
    elif isinstance(event, NetworkIncidentRecorded):
        await _incident(conn, event, ctx)
    elif isinstance(event, WorkOrderEvent):
        clock = await _advance(conn, where, event.recorded_at)
        await rejudge(conn, event.work_order_id, where.partition, clock, event.event_id, ctx)


async def _advance(conn: Connection, where: Consumed, seen: datetime) -> datetime:
    """Move the partition's clock to ``seen`` if later; returns the clock."""
    clock: datetime = await conn.fetchval(
        """
        INSERT INTO partition_clocks (kafka_partition, clock, last_offset) VALUES ($1, $2, $3)
        ON CONFLICT (kafka_partition) DO UPDATE
            SET clock = greatest(partition_clocks.clock, excluded.clock),
                last_offset = greatest(partition_clocks.last_offset, excluded.last_offset)
        RETURNING clock
        """,
        where.partition,
        seen,
        where.offset,
    )
    return clock


async def _ticked(
    conn: Connection, at: datetime, tick_id: UUID, where: Consumed, ctx: Context
) -> None:
    before: datetime | None = await conn.fetchval(
        "SELECT clock FROM partition_clocks WHERE kafka_partition = $1", where.partition
    )
    clock = await _advance(conn, where, at)
    if before is not None and clock <= before:
        return  # a tick not later than the partition's clock (another instance's): nothing new
    due = await conn.fetch(
        """
        SELECT work_order_id FROM order_projection
        WHERE kafka_partition = $1 AND next_due_at <= $2 ORDER BY work_order_id
        """,
        where.partition,
        clock,
    )
    for row in due:
        await rejudge(conn, row["work_order_id"], where.partition, clock, tick_id, ctx)


async def _incident(conn: Connection, event: NetworkIncidentRecorded, ctx: Context) -> None:
    """Every order judged at a clock that includes the incident (by its ``recorded_at``) is
    judged again at its own stored clock, now with the incident: the final rows then do not
    depend on how the two topics interleaved. Orders judged earlier never see it. The set is
    small: an incident is recorded moments before it is consumed, and only orders judged in
    between (or, on a rebuild, read before it) are in it; which of them it concerns is the
    judge's business, not a filter's here."""
    rows = await conn.fetch(
        """
        SELECT work_order_id, kafka_partition, judged_at FROM order_projection
        WHERE judged_at >= $1 ORDER BY work_order_id
        """,
        event.recorded_at,
    )
    for row in rows:
        await rejudge(
            conn,
            row["work_order_id"],
            row["kafka_partition"],
            row["judged_at"],
            event.event_id,
            ctx,
        )


async def rejudge(
    conn: Connection,
    work_order_id: UUID,
    partition: int,
    clock: datetime,
    cause: UUID,
    ctx: Context,
) -> Timeline | None:
    """Judge the order at ``clock`` and store the row, its segments and its live breaches."""
    events = await store.order_events(conn, work_order_id)
    if not events:
        return None
    incidents = await store.incidents_as_of(conn, clock)
    timeline = judged(work_order_id, events, ctx.book, clock, incidents)
    row = row_of(timeline)
    await _store_row(conn, row, partition, department_of(events))
    await _store_breaches(conn, timeline, events, cause, ctx.topic_prefix)
    return timeline


def department_of(events: list[WorkOrderEventT]) -> str | None:
    """The department the duty chief named when issuing the order (the first issue stands)."""
    issued = sorted(
        (e for e in events if isinstance(e, WorkOrderIssued)),
        key=lambda e: (e.recorded_at, e.event_id),
    )
    return issued[0].payload.department if issued else None


async def _store_row(
    conn: Connection, row: ProjectionRow, partition: int, department: str | None
) -> None:
    points = [row.points.get(p) for p in Point]
    await conn.execute(
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
        row.work_order_id,
        partition,
        row.judged_at,
        row.policy_version,
        department,
        *points,
        row.total_s,
        row.total_status.value,
        row.next_due_at,
        row.hash,
    )
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
        [
            (
                row.work_order_id,
                s.segment.value,
                row.points.get(Point.A),
                department,
                s.status.value,
                None if s.responsible is None else s.responsible.value,
                s.duration_s,
                s.ended,
                s.limit_s,
            )
            for s in row.segments
        ],
    )


async def _store_breaches(
    conn: Connection,
    timeline: Timeline,
    events: list[WorkOrderEventT],
    cause: UUID,
    topic_prefix: str,
) -> None:
    """Record each new live breach once (its event to the findings topic); close the open
    breaches of the order that no longer run (their end point arrived, or the order moved on)."""
    work_order_id = timeline.work_order_id
    live = live_breaches(timeline)
    ids = [breach_event_id(work_order_id, b.segment, b.attempt) for b in live]
    await conn.execute(
        """
        UPDATE breaches SET status = 'closed', closed_at = $2
        WHERE work_order_id = $1 AND status = 'open' AND NOT (event_id = ANY($3::uuid[]))
        """,
        work_order_id,
        timeline.as_of,
        ids,
    )
    for breach, event_id in zip(live, ids, strict=True):
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
        if inserted:
            await _publish(conn, timeline, events, breach, event_id, cause, topic_prefix)


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
