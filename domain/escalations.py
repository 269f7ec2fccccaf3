"""The escalation ladder of communication rules 1 and 2, as pure decisions.

Rule 1: an order issued (B) and not taken in by its repair center (C) within 4 minutes raises
``not_received`` for the 95598 center, which phones the repair center. Rule 2: an order
dispatched (D) and not taken by the crew (E or F) within 4 minutes raises ``not_taken`` level 1
for the repair center, which phones the crew's on-duty person; still not taken after a further
delay, or at once when that call did not reach anyone, level 2 names the crew's two leaders.

Due times come from the events' own times (a B posted late that is already 5 minutes old is due
at once), so that a replay decides the same. The shell keeps the timers in PostgreSQL and asks
these functions, in the timer's transaction, whether a due timer still raises anything.

What ends a wait (``close_reason``): rule 1 ends with the receipt (C); rule 2 with any report the
crew's unit makes about the dispatch waited on (E or F, and also G, H or fault cleared: a unit
that skipped E and F has plainly got the order), or with the recall of that dispatch. The order
closed by the 95598 callback ends every wait.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import WorkOrderDispatched, WorkOrderRecalled, WorkOrderReceived
from contracts.escalations import (
    Contact,
    EscalationCallPayload,
    EscalationRaisedPayload,
    EscalationRule,
    Notify,
)
from contracts.intake import WorkOrderClosed, WorkOrderIssued
from contracts.reference import Crew, RepairCenter
from contracts.registry import WorkOrderEventT
from domain.errors import StampOutOfTolerance
from domain.orders import OrderState
from domain.timeline._format import at as spell

Level = Literal[1, 2]


@dataclass(frozen=True)
class LadderPolicy:
    not_received_after_s: float = 240.0
    not_taken_after_s: float = 240.0
    level2_after_s: float = 240.0
    """After level 1 fell due, if the crew has still not taken the order."""


@dataclass(frozen=True)
class Timer:
    """One rung of the ladder that falls due at ``due_at`` unless the awaited event comes first."""

    work_order_id: UUID
    rule: EscalationRule
    level: Level
    due_at: datetime
    waiting_since_event_id: UUID
    """The issue (B) or the dispatch (D) the order waits on since."""

    @property
    def escalation_id(self) -> UUID:
        """The same rung always has the same id: raising it twice is impossible by construction."""
        return escalation_id(self.work_order_id, self.rule, self.level, self.waiting_since_event_id)


@dataclass(frozen=True)
class CrewContacts:
    on_duty: Contact
    leaders: tuple[Contact, Contact]


def repair_center_contact(center: RepairCenter) -> Contact:
    """Rule 1: the 95598 center phones the repair center on its own number."""
    return Contact(name=center.name, phone=center.phone, role="repair_center")


def crew_contacts(crew_id: str, crew: Crew) -> CrewContacts:
    """Rule 2: the crew's on-duty phone (its own, else its first leader's), then both leaders."""
    first, second = crew.leaders
    if crew.phone is not None:
        on_duty = Contact(
            name=f"{crew.name or crew_id}, on duty", phone=crew.phone, role="crew_on_duty"
        )
    else:
        on_duty = Contact(name=first.name, phone=first.phone, role="crew_on_duty")
    return CrewContacts(
        on_duty=on_duty,
        leaders=(
            Contact(name=first.name, phone=first.phone, role="leader"),
            Contact(name=second.name, phone=second.phone, role="leader"),
        ),
    )


def escalation_id(work_order_id: UUID, rule: EscalationRule, level: Level, since: UUID) -> UUID:
    return uuid5(
        NAMESPACE_URL, f"repair-dispatch:escalation:{work_order_id}:{rule}:{level}:{since}"
    )


def timers_started_by(event: WorkOrderEventT, policy: LadderPolicy) -> list[Timer]:
    """The rungs an event starts: B starts rule 1; each D (each dispatch attempt) starts rule 2."""
    if isinstance(event, WorkOrderIssued):
        due = event.occurred_at + timedelta(seconds=policy.not_received_after_s)
        return [Timer(event.work_order_id, EscalationRule.NOT_RECEIVED, 1, due, event.event_id)]
    if isinstance(event, WorkOrderDispatched):
        first = event.occurred_at + timedelta(seconds=policy.not_taken_after_s)
        second = first + timedelta(seconds=policy.level2_after_s)
        return [
            Timer(event.work_order_id, EscalationRule.NOT_TAKEN, 1, first, event.event_id),
            Timer(event.work_order_id, EscalationRule.NOT_TAKEN, 2, second, event.event_id),
        ]
    return []


def timer_after_call(
    raised: EscalationRaisedPayload, work_order_id: UUID, call: EscalationCallPayload, at: datetime
) -> Timer | None:
    """Rule 2: a level-1 call that reached nobody brings level 2 forward to now."""
    if raised.rule is not EscalationRule.NOT_TAKEN or raised.level != 1 or call.reached:
        return None
    return Timer(work_order_id, EscalationRule.NOT_TAKEN, 2, at, raised.waiting_since_event_id)


_TAKEN: dict[type[WorkOrderEventT], str] = {
    WorkOrderReceived: "received by the repair center",
    OrderReachedCrew: "reached the crew",
    OrderAcceptedByCrew: "accepted by the crew",
    CrewDeparted: "crew departed",
    CrewArrived: "crew arrived",
    FaultCleared: "fault cleared",
}
"""The hand-overs that end a wait, as an escalation's close reason reads them."""

RECALLED = "recalled"
ORDER_CLOSED = "order closed"


def ends_wait(rule: EscalationRule, waiting_since: UUID, event: WorkOrderEventT) -> bool:
    """Whether ``event`` is the hand-over the rung waits for."""
    if rule is EscalationRule.NOT_RECEIVED:
        return isinstance(event, WorkOrderReceived)
    # The crew's reports are caused by the dispatch they answer (``fields_from``); any of them
    # says the crew has the order, even when its unit skipped E and F.
    return (
        isinstance(
            event,
            OrderReachedCrew | OrderAcceptedByCrew | CrewDeparted | CrewArrived | FaultCleared,
        )
        and event.causation_id == waiting_since
    )


def close_reason(rule: EscalationRule, waiting_since: UUID, event: WorkOrderEventT) -> str | None:
    """Why ``event`` ends the wait of a rung (an open escalation, or a timer not yet due):
    the awaited hand-over, the recall of the dispatch waited on, the order closed; else None."""
    if ends_wait(rule, waiting_since, event):
        return _TAKEN[type(event)]
    if (
        rule is EscalationRule.NOT_TAKEN
        and isinstance(event, WorkOrderRecalled)
        and event.payload.dispatch_event_id == waiting_since
    ):
        return RECALLED
    if isinstance(event, WorkOrderClosed):
        return ORDER_CLOSED
    return None


def awaited_event(
    rule: EscalationRule, waiting_since: UUID, state: OrderState
) -> WorkOrderEventT | None:
    """The event that ended the wait, if it has happened."""
    candidates: list[WorkOrderEventT] = [*state.crew_reports]
    if state.received is not None:
        candidates.append(state.received)
    return next((e for e in candidates if ends_wait(rule, waiting_since, e)), None)


def not_needed(timer: Timer, state: OrderState) -> str | None:
    """Why a due timer raises nothing (the wait ended, or was replaced), or None: it raises."""
    if state.closed is not None:
        return ORDER_CLOSED
    if (awaited := awaited_event(timer.rule, timer.waiting_since_event_id, state)) is not None:
        return f"{_TAKEN[type(awaited)]} first"
    if timer.rule is EscalationRule.NOT_RECEIVED:
        return None if state.issued is not None else "the order was never issued"
    waited = next((d for d in state.dispatches if d.event_id == timer.waiting_since_event_id), None)
    if waited is None:
        return "the dispatch waited on is unknown"
    if state.recall_of(waited) is not None:
        return RECALLED
    if state.dispatched is None or state.dispatched.event_id != waited.event_id:
        return "replaced by another dispatch"
    return None


def decide_raise(
    timer: Timer,
    state: OrderState,
    repair_center: Contact | None,
    crew: CrewContacts | None,
) -> EscalationRaisedPayload | None:
    """What a due timer raises: nothing when the awaited event came, or the wait was replaced
    (the order went to another dispatch, was recalled or closed), or nobody is known to phone
    (rule 1 needs ``repair_center``, rule 2 ``crew``); else the rung with whom to phone."""
    if not_needed(timer, state) is not None:
        return None
    if timer.rule is EscalationRule.NOT_RECEIVED:
        if state.issued is None or repair_center is None:
            return None
        return EscalationRaisedPayload(
            escalation_id=timer.escalation_id,
            rule=timer.rule,
            level=1,
            notify=Notify.CUSTOMER_SERVICE_CENTER,
            repair_center_id=state.issued.payload.repair_center_id,
            contacts=[repair_center],
            due_at=timer.due_at,
            waiting_since_event_id=timer.waiting_since_event_id,
        )
    dispatched = state.dispatched
    if dispatched is None or dispatched.event_id != timer.waiting_since_event_id or crew is None:
        return None
    return EscalationRaisedPayload(
        escalation_id=timer.escalation_id,
        rule=timer.rule,
        level=timer.level,
        notify=Notify.REPAIR_CENTER,
        repair_center_id=dispatched.payload.repair_center_id,
        crew_id=dispatched.payload.crew_id,
        contacts=[crew.on_duty] if timer.level == 1 else list(crew.leaders),
        due_at=timer.due_at,
        waiting_since_event_id=timer.waiting_since_event_id,
    )


def closed_by(
    open_escalations: list[EscalationRaisedPayload], event: WorkOrderEventT
) -> list[UUID]:
    """The open escalations that ``event`` closes (every rung waiting for it)."""
    return [e.escalation_id for e, _ in closings(open_escalations, event)]


def closings(
    open_escalations: list[EscalationRaisedPayload], event: WorkOrderEventT
) -> list[tuple[EscalationRaisedPayload, str]]:
    """The open escalations that ``event`` closes, each with the reason."""
    return [
        (e, reason)
        for e in open_escalations
        if (reason := close_reason(e.rule, e.waiting_since_event_id, event)) is not None
    ]


CALL_CLOCK_SLACK = timedelta(seconds=60)
"""How far a phoning person's console clock may be off ours: a call stamped up to this much
before the escalation was raised, or after our clock, is still taken."""


def check_call_stamp(called_at: datetime, raised_at: datetime, now: datetime) -> None:
    """A call is made for a raised escalation: not before it was raised, and not in the future
    (each within ``CALL_CLOCK_SLACK``); else ``StampOutOfTolerance`` at ``called_at`` (422)."""
    if called_at < raised_at - CALL_CLOCK_SLACK:
        raise StampOutOfTolerance(
            "called_at",
            f"called_at {spell(called_at)} is before the escalation was raised "
            f"({spell(raised_at)}); a call is recorded against the escalation it answers. "
            "Nothing was recorded.",
            stamp=called_at,
            recorded_at=raised_at,
            tolerance=CALL_CLOCK_SLACK,
        )
    if called_at > now + CALL_CLOCK_SLACK:
        raise StampOutOfTolerance(
            "called_at",
            f"called_at {spell(called_at)} is after our clock ({spell(now)}); a call is "
            "recorded once it was made. Nothing was recorded: check the console's clock.",
            stamp=called_at,
            recorded_at=now,
            tolerance=CALL_CLOCK_SLACK,
        )


_SEPARATORS = str.maketrans("", "", " -")


def _digits(phone: str) -> str:
    return phone.translate(_SEPARATORS)


def names_phone(raised: EscalationRaisedPayload, phone: str) -> bool:
    """Whether ``phone`` is one the escalation names (spaces and dashes aside)."""
    return any(_digits(c.phone) == _digits(phone) for c in raised.contacts)


def call_key(escalation: UUID, called_at: datetime, phone: str) -> str:
    """The natural key of a call: the escalation, the instant (one spelling whatever the offset)
    and the number dialled (spaces and dashes aside); a retry of the post repeats all three."""
    return f"{escalation}|{spell(called_at)}|{_digits(phone)}"


def call_id(key: str) -> str:
    """The call's id, the same for every retry of its post."""
    return str(uuid5(NAMESPACE_URL, f"repair-dispatch:escalation-call:{key}"))
