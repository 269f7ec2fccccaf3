"""The escalation ladder's tables and stream: timers, escalations raised, calls, closings.

Every write here runs inside the caller's transaction, beside the event it follows from, and
appends to the escalation's own stream (``escalation-<id>``): raised is its first event, then
the calls and the closing, so two writers on one escalation meet on the stream's version.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asyncpg import Record

from contracts.escalations import (
    EscalationCallRecorded,
    EscalationClosed,
    EscalationClosedPayload,
    EscalationEvent,
    EscalationRaised,
    EscalationRaisedPayload,
    EscalationRule,
)
from contracts.registry import WorkOrderEventT
from domain.escalations import Timer
from services.common.db import Connection
from services.common.event_store import append, stream_version

SOURCE = "dispatch:escalation-ladder"


def escalation_stream(escalation_id: UUID) -> str:
    return f"escalation-{escalation_id}"


async def append_escalation_event(
    conn: Connection, event: EscalationEvent, escalation_id: UUID, topic_prefix: str
) -> None:
    """Append to the escalation's stream (a racing writer makes it ``ConcurrentWrite``)."""
    stream = escalation_stream(escalation_id)
    await append(conn, stream, await stream_version(conn, stream), [event], topic_prefix)


# -- timers ------------------------------------------------------------------------------------


async def insert_timers(conn: Connection, timers: list[Timer]) -> None:
    """Start the rungs; a rung already started (a redelivered event) stays as it is."""
    for timer in timers:
        await conn.execute(
            """
            INSERT INTO escalation_timers
                (escalation_id, work_order_id, rule, level, due_at, waiting_since_event_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (escalation_id) DO NOTHING
            """,
            timer.escalation_id,
            timer.work_order_id,
            timer.rule.value,
            timer.level,
            timer.due_at,
            timer.waiting_since_event_id,
        )


async def bring_forward(conn: Connection, timer: Timer) -> datetime | None:
    """Make the rung due no later than ``timer.due_at`` (the earlier of the two); its due time
    now, or None when it has fired already."""
    due: datetime | None = await conn.fetchval(
        """
        INSERT INTO escalation_timers
            (escalation_id, work_order_id, rule, level, due_at, waiting_since_event_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (escalation_id) DO UPDATE
            SET due_at = least(escalation_timers.due_at, EXCLUDED.due_at)
            WHERE escalation_timers.fired_at IS NULL
        RETURNING due_at
        """,
        timer.escalation_id,
        timer.work_order_id,
        timer.rule.value,
        timer.level,
        timer.due_at,
        timer.waiting_since_event_id,
    )
    return due


async def lock_pending_timers(conn: Connection, work_order_id: UUID) -> list[Timer]:
    """The order's rungs not yet fired, locked until commit.

    Whoever writes to an order's ladder (an event that ends a wait, a call that brings level 2
    forward) locks its pending timers first and its escalations second, always in that order
    and by id, so that two such writers queue rather than deadlock, and a timer firing right
    now (which holds its row) is waited for: its escalation is then there to be closed.
    """
    rows = await conn.fetch(
        """
        SELECT * FROM escalation_timers
        WHERE work_order_id = $1 AND fired_at IS NULL
        ORDER BY escalation_id
        FOR UPDATE
        """,
        work_order_id,
    )
    return [timer_of(row) for row in rows]


async def take_due_timer(conn: Connection, now: datetime) -> Timer | None:
    """The most overdue unfired rung that no other instance holds, locked until commit."""
    row = await conn.fetchrow(
        """
        SELECT * FROM escalation_timers
        WHERE fired_at IS NULL AND due_at <= $1
        ORDER BY due_at, escalation_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
        """,
        now,
    )
    return None if row is None else timer_of(row)


def timer_of(row: Record) -> Timer:
    return Timer(
        work_order_id=row["work_order_id"],
        rule=EscalationRule(row["rule"]),
        level=row["level"],
        due_at=row["due_at"],
        waiting_since_event_id=row["waiting_since_event_id"],
    )


async def settle_timer(conn: Connection, escalation_id: UUID, at: datetime, outcome: str) -> None:
    """The rung has fired (raised, or found not needed): it never fires again."""
    await conn.execute(
        """
        UPDATE escalation_timers SET fired_at = $2, outcome = $3
        WHERE escalation_id = $1 AND fired_at IS NULL
        """,
        escalation_id,
        at,
        outcome,
    )


# -- escalations -------------------------------------------------------------------------------


async def record_raised(conn: Connection, event: EscalationRaised, topic_prefix: str) -> None:
    """The escalation's first event, and its row."""
    payload = event.payload
    await append_escalation_event(conn, event, payload.escalation_id, topic_prefix)
    await conn.execute(
        """
        INSERT INTO escalations (escalation_id, work_order_id, raised_event_id, correlation_id,
                                 due_at, raised_at, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        payload.escalation_id,
        event.work_order_id,
        event.event_id,
        event.correlation_id,
        payload.due_at,
        event.occurred_at,
        payload.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class Raised:
    """An escalation as stored: what was raised, when, and whether it is closed."""

    payload: EscalationRaisedPayload
    work_order_id: UUID
    correlation_id: UUID
    raised_event_id: UUID
    raised_at: datetime
    closed_at: datetime | None


def _raised(row: Record) -> Raised:
    return Raised(
        payload=EscalationRaisedPayload.model_validate(row["body"]),
        work_order_id=row["work_order_id"],
        correlation_id=row["correlation_id"],
        raised_event_id=row["raised_event_id"],
        raised_at=row["raised_at"],
        closed_at=row["closed_at"],
    )


async def escalation_order(conn: Connection, escalation_id: UUID) -> UUID | None:
    """The work order an escalation belongs to (unlocked), or None for an unknown id."""
    work_order_id: UUID | None = await conn.fetchval(
        "SELECT work_order_id FROM escalations WHERE escalation_id = $1", escalation_id
    )
    return work_order_id


async def lock_escalation(conn: Connection, escalation_id: UUID) -> Raised | None:
    """The escalation, locked until commit (a call and a closing take turns), or None."""
    row = await conn.fetchrow(
        "SELECT * FROM escalations WHERE escalation_id = $1 FOR UPDATE", escalation_id
    )
    return None if row is None else _raised(row)


async def lock_open_escalations(conn: Connection, work_order_id: UUID) -> list[Raised]:
    """The order's open escalations, locked until commit (after its timers: see above)."""
    rows = await conn.fetch(
        """
        SELECT * FROM escalations WHERE work_order_id = $1 AND closed_at IS NULL
        ORDER BY escalation_id
        FOR UPDATE
        """,
        work_order_id,
    )
    return [_raised(row) for row in rows]


async def record_closed(
    conn: Connection,
    raised: Raised,
    by: WorkOrderEventT,
    reason: str,
    now: datetime,
    topic_prefix: str,
) -> EscalationClosed:
    """Close an open escalation: its ``EscalationClosed`` (stamped when ``by`` happened, by
    its source), and the row's ``closed_at``."""
    escalation_id = raised.payload.escalation_id
    event = EscalationClosed(
        **EscalationClosed.fields_from(by),
        work_order_id=raised.work_order_id,
        occurred_at=by.occurred_at,
        recorded_at=now,
        source=SOURCE,
        payload=EscalationClosedPayload(
            escalation_id=escalation_id, closed_by_event_id=by.event_id, reason=reason
        ),
    )
    await append_escalation_event(conn, event, escalation_id, topic_prefix)
    await conn.execute(
        """
        UPDATE escalations SET closed_at = $2, closed_by_event_id = $3, close_reason = $4
        WHERE escalation_id = $1
        """,
        escalation_id,
        event.occurred_at,
        by.event_id,
        reason,
    )
    return event


async def record_call(
    conn: Connection, raised: Raised, event: EscalationCallRecorded, topic_prefix: str
) -> None:
    """A phone call made for the escalation: its event and its row."""
    call = event.payload
    await append_escalation_event(conn, event, raised.payload.escalation_id, topic_prefix)
    await conn.execute(
        """
        INSERT INTO escalation_calls (escalation_id, call_id, event_id, called_at, phone,
                                      reached, note, recorded_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        call.escalation_id,
        call.call_id,
        event.event_id,
        event.occurred_at,
        call.phone,
        call.reached,
        call.note,
        event.recorded_at,
    )
