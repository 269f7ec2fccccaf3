"""The escalation ladder of communication rules 1 and 2, as pure decisions.

Rule 1: an order issued (B) and not taken in by its repair center (C) within 4 minutes raises
``not_received`` for the 95598 center, which phones the repair center. Rule 2: an order
dispatched (D) and not taken by the crew (E or F) within 4 minutes raises ``not_taken`` level 1
for the repair center, which phones the crew's on-duty person; still not taken after a further
delay, or at once when that call did not reach anyone, level 2 names the crew's two leaders.

Due times come from the events' own times (a B posted late that is already 5 minutes old is due
at once), so that a replay decides the same. The shell keeps the timers in PostgreSQL and asks
these functions, in the timer's transaction, whether a due timer still raises anything.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.crew import OrderAcceptedByCrew, OrderReachedCrew
from contracts.dispatch import WorkOrderDispatched, WorkOrderReceived
from contracts.escalations import (
    Contact,
    EscalationCallPayload,
    EscalationRaisedPayload,
    EscalationRule,
    Notify,
)
from contracts.intake import WorkOrderIssued
from contracts.registry import WorkOrderEventT
from domain.orders import OrderState

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


def ends_wait(rule: EscalationRule, waiting_since: UUID, event: WorkOrderEventT) -> bool:
    """Whether ``event`` is the hand-over the rung waits for."""
    if rule is EscalationRule.NOT_RECEIVED:
        return isinstance(event, WorkOrderReceived)
    # The crew's reports are caused by the dispatch they answer (``fields_from``).
    return (
        isinstance(event, OrderReachedCrew | OrderAcceptedByCrew)
        and event.causation_id == waiting_since
    )


def awaited_event(
    rule: EscalationRule, waiting_since: UUID, state: OrderState
) -> WorkOrderEventT | None:
    """The event that ended the wait, if it has happened."""
    candidates: list[WorkOrderEventT] = [*state.crew_reports]
    if state.received is not None:
        candidates.append(state.received)
    return next((e for e in candidates if ends_wait(rule, waiting_since, e)), None)


def decide_raise(
    timer: Timer,
    state: OrderState,
    repair_center: Contact,
    crew: CrewContacts | None,
) -> EscalationRaisedPayload | None:
    """What a due timer raises: nothing when the awaited event came, or the wait was replaced
    (the order went to another dispatch); else the rung with whom to phone."""
    if awaited_event(timer.rule, timer.waiting_since_event_id, state) is not None:
        return None
    if timer.rule is EscalationRule.NOT_RECEIVED:
        if state.issued is None:
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
    return [
        e.escalation_id
        for e in open_escalations
        if ends_wait(e.rule, e.waiting_since_event_id, event)
    ]
