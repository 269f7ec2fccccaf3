"""The escalation ladder's decisions: when each rung falls due, whom it names, what ends it."""

from datetime import timedelta

from contracts.escalations import Contact, EscalationCallPayload, EscalationRule, Notify
from contracts.registry import WorkOrderEventT
from domain.escalations import (
    CrewContacts,
    LadderPolicy,
    Timer,
    closed_by,
    decide_raise,
    timer_after_call,
    timers_started_by,
)
from domain.orders import OrderState
from domain.policy import Point
from tests.unit.factories import WO, event, minutes

POLICY = LadderPolicy()
CENTER = Contact(name="Chaoyang repair center", phone="+86 10 6500 0001", role="repair_center")
CREW = CrewContacts(
    on_duty=Contact(name="Crew 3 duty", phone="+86 10 6500 0003", role="crew_on_duty"),
    leaders=(
        Contact(name="Wang", phone="+86 10 6500 0004", role="leader"),
        Contact(name="Zhao", phone="+86 10 6500 0005", role="leader"),
    ),
)


def state(*events: WorkOrderEventT) -> OrderState:
    return OrderState.fold(WO, events)


def answering(dispatch: WorkOrderEventT, point: Point, at: float) -> WorkOrderEventT:
    """A crew report caused by ``dispatch``, as the write side builds it."""
    return event(point, minutes(at)).model_copy(update={"causation_id": dispatch.event_id})


def test_an_issue_starts_rule_1_due_four_minutes_after_its_own_stamp() -> None:
    issued = event(Point.B, minutes(1), recorded=minutes(6))  # posted late: already overdue
    [timer] = timers_started_by(issued, POLICY)
    assert timer.rule is EscalationRule.NOT_RECEIVED
    assert timer.level == 1
    assert timer.due_at == minutes(5)
    assert timer.waiting_since_event_id == issued.event_id


def test_a_dispatch_starts_both_rungs_of_rule_2() -> None:
    dispatched = event(Point.D, minutes(4))
    first, second = timers_started_by(dispatched, POLICY)
    assert (first.level, first.due_at) == (1, minutes(8))
    assert (second.level, second.due_at) == (2, minutes(12))
    assert first.escalation_id != second.escalation_id
    assert timers_started_by(event(Point.E, minutes(5)), POLICY) == []


def test_rule_1_raises_for_the_95598_center_naming_the_repair_center() -> None:
    call, issued = event(Point.A, minutes(0)), event(Point.B, minutes(1))
    [timer] = timers_started_by(issued, POLICY)
    raised = decide_raise(timer, state(call, issued), CENTER, None)
    assert raised is not None
    assert raised.notify is Notify.CUSTOMER_SERVICE_CENTER
    assert raised.contacts == [CENTER]
    assert raised.escalation_id == timer.escalation_id


def test_the_awaited_event_means_nothing_is_raised() -> None:
    call, issued, received = (
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 6))
    )
    [timer] = timers_started_by(issued, POLICY)
    # Late by its own clock, but it came before the timer fired: the wait is over.
    assert decide_raise(timer, state(call, issued, received), CENTER, None) is None


def test_rule_2_names_the_on_duty_person_then_both_leaders() -> None:
    events = [
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 2), (Point.D, 3))
    ]
    first, second = timers_started_by(events[-1], POLICY)
    one = decide_raise(first, state(*events), CENTER, CREW)
    two = decide_raise(second, state(*events), CENTER, CREW)
    assert one is not None
    assert two is not None
    assert (one.level, one.notify, one.contacts) == (1, Notify.REPAIR_CENTER, [CREW.on_duty])
    assert (two.level, two.contacts) == (2, list(CREW.leaders))
    assert one.crew_id == "crew-3"


def test_the_crew_taking_the_order_ends_rule_2_and_closes_what_is_open() -> None:
    events = [
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 2), (Point.D, 3))
    ]
    dispatch = events[-1]
    first, second = timers_started_by(dispatch, POLICY)
    raised = decide_raise(first, state(*events), CENTER, CREW)
    assert raised is not None
    accepted = answering(dispatch, Point.F, 9)
    assert decide_raise(second, state(*events, accepted), CENTER, CREW) is None
    assert closed_by([raised], accepted) == [raised.escalation_id]
    # A report that answers another dispatch attempt closes nothing of this one.
    other = event(Point.F, minutes(9))
    assert closed_by([raised], other) == []


def test_a_call_that_reached_nobody_brings_level_2_forward() -> None:
    events = [
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 2), (Point.D, 3))
    ]
    first, _ = timers_started_by(events[-1], POLICY)
    raised = decide_raise(first, state(*events), CENTER, CREW)
    assert raised is not None
    missed = EscalationCallPayload(
        escalation_id=raised.escalation_id, call_id="c1", phone="+86 10 6500 0003", reached=False
    )
    early = timer_after_call(raised, WO, missed, minutes(8.5))
    assert early == Timer(WO, EscalationRule.NOT_TAKEN, 2, minutes(8.5), events[-1].event_id)
    reached = missed.model_copy(update={"reached": True})
    assert timer_after_call(raised, WO, reached, minutes(8.5)) is None


def test_a_timer_of_a_replaced_dispatch_raises_nothing() -> None:
    events = [
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 2), (Point.D, 3))
    ]
    first, _ = timers_started_by(events[-1], POLICY)
    stale = Timer(WO, first.rule, 1, first.due_at, waiting_since_event_id=events[0].event_id)
    assert decide_raise(stale, state(*events), CENTER, CREW) is None
    assert first.due_at - events[-1].occurred_at == timedelta(minutes=4)
