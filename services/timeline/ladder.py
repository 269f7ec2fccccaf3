"""The escalation ladder on the auditor's desk: consumed from ``repair.escalations.v1``.

Dispatch raises the rungs of rules 1 and 2, records every phone call and closes a rung when the
awaited hand-over happens. The timeline keeps each of those events once, by its event id, in
``ladder_events`` (both clocks, where it sat in Kafka), in the consumer's transaction; the ladder
an auditor reads is folded from them on request by the pure ``fold``, as of any instant (by
``recorded_at``, as the timeline's ``?as_of=``). An event applied twice changes nothing, and a
rebuild from offset 0 stores the same rows, so the rebuilt ladder is the live one.

The escalation events are not kept in ``received_events``: that table is the order's own steps
(its ``/events`` history, and the input of the judge), which the ladder is not.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal, assert_never
from uuid import UUID

from pydantic import BaseModel

from contracts import AnyEvent, parse_event
from contracts.escalations import (
    Contact,
    EscalationCallRecorded,
    EscalationClosed,
    EscalationEvent,
    EscalationRaised,
    EscalationRule,
    Notify,
)
from contracts.registry import EscalationEventT
from services.common.consumer import Consumed, Subscription
from services.common.db import Connection


def wanted(event: AnyEvent) -> bool:
    """An event of the escalation ladder (raised, call recorded, closed)."""
    return isinstance(event, EscalationEvent)


async def apply(conn: Connection, event: AnyEvent, where: Consumed) -> None:
    """Keep one ladder event, once by its id, in the consumer's transaction."""
    if not isinstance(event, EscalationRaised | EscalationCallRecorded | EscalationClosed):
        return  # not the ladder's (``beside`` routes only the ladder's here)
    await conn.execute(
        """
        INSERT INTO ladder_events (event_id, event_type, work_order_id, escalation_id,
            occurred_at, recorded_at, topic, kafka_partition, kafka_offset, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (event_id) DO NOTHING
        """,
        event.event_id,
        event.event_type,
        event.work_order_id,
        event.payload.escalation_id,
        event.occurred_at,
        event.recorded_at,
        where.topic,
        where.partition,
        where.offset,
        event.model_dump(mode="json"),
    )


def beside(own: Subscription) -> Subscription:
    """``own`` (the projection's subscription) with the ladder's events routed to ``apply``.

    Ladder events are neither handed to ``own`` nor kept in ``received_events``; every other
    event goes to ``own`` exactly as before (its ``wants``, ``keeps``, ``apply``, ``apply_at``,
    ``apply_batch``)."""

    def wants(event: AnyEvent) -> bool:
        return wanted(event) or own.wants(event)

    def keeps(event: AnyEvent) -> bool:
        return not wanted(event) and own.keeps(event)

    async def own_apply(conn: Connection, event: AnyEvent) -> None:
        if not wanted(event) and own.apply is not None:
            await own.apply(conn, event)

    async def apply_at(conn: Connection, event: AnyEvent, where: Consumed) -> None:
        if wanted(event):
            await apply(conn, event, where)
        elif own.apply_at is not None:
            await own.apply_at(conn, event, where)

    async def apply_batch(conn: Connection, items: Sequence[tuple[AnyEvent, Consumed]]) -> None:
        # The ladder's rows and the projection's are independent of each other: the ladder's
        # events are kept, the rest go to ``own`` as one batch, in their order.
        rest = []
        for event, where in items:
            if wanted(event):
                await apply(conn, event, where)
            else:
                rest.append((event, where))
        if rest and own.apply_batch is not None:
            await own.apply_batch(conn, rest)

    return replace(
        own,
        wants=wants,
        keeps=keeps,
        apply=own_apply if own.apply is not None else None,
        apply_at=apply_at,
        # With a batch handler the consumer calls only it, for single events too.
        apply_batch=apply_batch if own.apply_batch is not None else None,
    )


# -- the ladder as read ------------------------------------------------------------------------


class Where(BaseModel):
    """Where an event sat in Kafka."""

    topic: str
    kafka_partition: int
    kafka_offset: int


class LadderCall(BaseModel):
    """One phone call recorded for a rung: who was phoned, when, and whether they answered."""

    event_id: UUID
    call_id: str
    called_at: datetime
    """When they phoned (the dispatcher's or 95598 agent's clock: the event's ``occurred_at``)."""
    recorded_at: datetime
    phone: str
    contact: Contact | None
    """The contact of the rung with that phone; ``None`` for a number the rung does not name."""
    reached: bool
    note: str | None
    source: str
    """Who recorded the call (``repair-center:<id>``, the 95598 center)."""
    where: Where


class Rung(BaseModel):
    """One rung of the ladder: raised when a wait ran out, with whom to phone and every call."""

    escalation_id: UUID
    event_id: UUID
    rule: EscalationRule
    level: Literal[1, 2]
    notify: Notify
    repair_center_id: str
    crew_id: str | None
    contacts: list[Contact]
    due_at: datetime
    """When the wait ran out, from the order's own stamps."""
    raised_at: datetime
    """The raising event's ``occurred_at`` (dispatch's clock)."""
    recorded_at: datetime
    waiting_since_event_id: UUID
    where: Where
    status: Literal["open", "closed"]
    closed_at: datetime | None
    """When the awaited hand-over happened, by its source's clock; ``None`` while open."""
    closed_recorded_at: datetime | None
    close_reason: str | None
    closed_by_event_id: UUID | None
    calls: list[LadderCall]


class Ladder(BaseModel):
    work_order_id: UUID
    as_of: datetime
    items: list[Rung]
    """Rungs by when they fell due, then level; each with its calls in the order they were made."""


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit() or ch == "+")


def fold(
    work_order_id: UUID, located: list[tuple[EscalationEventT, Where]], as_of: datetime
) -> Ladder:
    """The ladder as it stood at ``as_of``: only events recorded by then count (pure).

    The input may come in any order and with duplicates; the answer is the same. A call or a
    closure of a rung whose raising is not known (yet) is left out until it is."""
    seen: dict[UUID, tuple[EscalationEventT, Where]] = {}
    for event, where in located:
        if event.recorded_at <= as_of:
            seen.setdefault(event.event_id, (event, where))
    ordered = sorted(seen.values(), key=lambda ew: (ew[0].recorded_at, str(ew[0].event_id)))
    rungs: dict[UUID, Rung] = {}
    later: list[tuple[EscalationCallRecorded | EscalationClosed, Where]] = []
    for event, where in ordered:
        match event:
            case EscalationRaised():
                p = event.payload
                rungs.setdefault(
                    p.escalation_id,
                    Rung(
                        escalation_id=p.escalation_id,
                        event_id=event.event_id,
                        rule=p.rule,
                        level=p.level,
                        notify=p.notify,
                        repair_center_id=p.repair_center_id,
                        crew_id=p.crew_id,
                        contacts=p.contacts,
                        due_at=p.due_at,
                        raised_at=event.occurred_at,
                        recorded_at=event.recorded_at,
                        waiting_since_event_id=p.waiting_since_event_id,
                        where=where,
                        status="open",
                        closed_at=None,
                        closed_recorded_at=None,
                        close_reason=None,
                        closed_by_event_id=None,
                        calls=[],
                    ),
                )
            case EscalationCallRecorded() | EscalationClosed():
                later.append((event, where))
            case _ as unreachable:
                assert_never(unreachable)
    for event, where in later:
        rung = rungs.get(event.payload.escalation_id)
        if rung is None:
            continue
        if isinstance(event, EscalationCallRecorded):
            call = event.payload
            named = [c for c in rung.contacts if _digits(c.phone) == _digits(call.phone)]
            rung.calls.append(
                LadderCall(
                    event_id=event.event_id,
                    call_id=call.call_id,
                    called_at=event.occurred_at,
                    recorded_at=event.recorded_at,
                    phone=call.phone,
                    contact=named[0] if named else None,
                    reached=call.reached,
                    note=call.note,
                    source=event.source,
                    where=where,
                )
            )
        elif rung.status == "open":  # the first closure stands
            rung.status = "closed"
            rung.closed_at = event.occurred_at
            rung.closed_recorded_at = event.recorded_at
            rung.close_reason = event.payload.reason
            rung.closed_by_event_id = event.payload.closed_by_event_id
    for rung in rungs.values():
        rung.calls.sort(key=lambda c: (c.called_at, c.recorded_at, str(c.event_id)))
    items = sorted(rungs.values(), key=lambda r: (r.due_at, r.level, str(r.escalation_id)))
    return Ladder(work_order_id=work_order_id, as_of=as_of, items=items)


async def ladder_events(
    conn: Connection, work_order_id: UUID
) -> list[tuple[EscalationEventT, Where]]:
    """Every ladder event kept for the order, with where it sat in Kafka."""
    rows = await conn.fetch(
        """
        SELECT body::text, topic, kafka_partition, kafka_offset FROM ladder_events
        WHERE work_order_id = $1 ORDER BY recorded_at, event_id
        """,
        work_order_id,
    )
    out: list[tuple[EscalationEventT, Where]] = []
    for row in rows:
        event = parse_event(row[0])
        if isinstance(event, EscalationRaised | EscalationCallRecorded | EscalationClosed):
            out.append((event, Where(topic=row[1], kafka_partition=row[2], kafka_offset=row[3])))
    return out
