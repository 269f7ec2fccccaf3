"""The escalation ladder's decisions: when each rung falls due, whom it names, what ends it."""

from datetime import timedelta, timezone

import pytest

from contracts.dispatch import WorkOrderRecalled, WorkOrderRecalledPayload
from contracts.escalations import Contact, EscalationCallPayload, EscalationRule, Notify
from contracts.intake import WorkOrderClosed, WorkOrderClosedPayload
from contracts.reference import Crew, Leader, RepairCenter
from contracts.registry import WorkOrderEventT
from domain.errors import StampOutOfTolerance
from domain.escalations import (
    CALL_CLOCK_SLACK,
    CrewContacts,
    LadderPolicy,
    Timer,
    call_id,
    call_key,
    check_call_stamp,
    close_reason,
    closed_by,
    closings,
    crew_contacts,
    decide_raise,
    escalation_id,
    names_phone,
    not_needed,
    repair_center_contact,
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


def dispatched_order() -> list[WorkOrderEventT]:
    return [
        event(p, minutes(m)) for p, m in ((Point.A, 0), (Point.B, 1), (Point.C, 2), (Point.D, 3))
    ]


def recall_of(dispatch: WorkOrderEventT, at: float) -> WorkOrderRecalled:
    return WorkOrderRecalled(
        **WorkOrderRecalled.fields_from(dispatch),
        work_order_id=WO,
        occurred_at=minutes(at),
        recorded_at=minutes(at),
        source="repair-center:rc-chaoyang",
        payload=WorkOrderRecalledPayload(
            dispatch_event_id=dispatch.event_id,
            repair_center_id="rc-chaoyang",
            crew_id="crew-3",
            vehicle_id="veh-12",
            reason="not our trade",
            requested_by="dispatcher-1",
        ),
    )


def closed_order(cause: WorkOrderEventT, at: float) -> WorkOrderClosed:
    return WorkOrderClosed(
        **WorkOrderClosed.fields_from(cause),
        work_order_id=WO,
        occurred_at=minutes(at),
        recorded_at=minutes(at),
        source="phone-system",
        payload=WorkOrderClosedPayload(satisfied=True),
    )


def test_any_report_on_the_dispatch_ends_rule_2_with_its_reason() -> None:
    events = dispatched_order()
    dispatch = events[-1]
    first, _ = timers_started_by(dispatch, POLICY)
    departed = answering(dispatch, Point.G, 9)  # the unit skipped E and F
    assert close_reason(first.rule, first.waiting_since_event_id, departed) == "crew departed"
    assert not_needed(first, state(*events, departed)) == "crew departed first"
    reached = answering(dispatch, Point.E, 9)
    assert close_reason(first.rule, dispatch.event_id, reached) == "reached the crew"
    received = events[2]
    assert close_reason(EscalationRule.NOT_RECEIVED, events[1].event_id, received) == (
        "received by the repair center"
    )
    # A receipt says nothing about the crew; a crew report nothing about rule 1.
    assert close_reason(first.rule, dispatch.event_id, received) is None
    assert close_reason(EscalationRule.NOT_RECEIVED, events[1].event_id, reached) is None


def test_a_recall_ends_the_rungs_of_its_dispatch_only() -> None:
    events = dispatched_order()
    dispatch = events[-1]
    first, second = timers_started_by(dispatch, POLICY)
    recall = recall_of(dispatch, 5)
    assert close_reason(first.rule, dispatch.event_id, recall) == "recalled"
    assert close_reason(second.rule, dispatch.event_id, recall) == "recalled"
    assert close_reason(first.rule, events[0].event_id, recall) is None
    assert close_reason(EscalationRule.NOT_RECEIVED, events[1].event_id, recall) is None
    assert not_needed(second, state(*events, recall)) == "recalled"
    assert decide_raise(second, state(*events, recall), CENTER, CREW) is None


def test_a_new_dispatch_replaces_the_wait_on_the_recalled_one() -> None:
    events = dispatched_order()
    first_dispatch = events[-1]
    old, _ = timers_started_by(first_dispatch, POLICY)
    again = event(Point.D, minutes(6))
    later = state(*events, recall_of(first_dispatch, 5), again)
    assert not_needed(old, later) == "recalled"
    new, _ = timers_started_by(again, POLICY)
    assert not_needed(new, later) is None
    raised = decide_raise(new, later, CENTER, CREW)
    assert raised is not None
    assert raised.waiting_since_event_id == again.event_id


def test_the_order_closed_ends_every_wait() -> None:
    events = dispatched_order()
    first, second = timers_started_by(events[-1], POLICY)
    closed = closed_order(events[-1], 30)
    assert close_reason(first.rule, first.waiting_since_event_id, closed) == "order closed"
    assert not_needed(second, state(*events, closed)) == "order closed"


def test_rule_1_is_not_raised_without_a_repair_center_to_phone() -> None:
    call, issued = event(Point.A, minutes(0)), event(Point.B, minutes(1))
    [timer] = timers_started_by(issued, POLICY)
    assert not_needed(timer, state(call, issued)) is None
    assert decide_raise(timer, state(call, issued), None, None) is None


def test_closings_give_each_closed_rung_its_reason() -> None:
    events = dispatched_order()
    dispatch = events[-1]
    first, second = timers_started_by(dispatch, POLICY)
    one = decide_raise(first, state(*events), CENTER, CREW)
    two = decide_raise(second, state(*events), CENTER, CREW)
    assert one is not None
    assert two is not None
    accepted = answering(dispatch, Point.F, 9)
    assert closings([one, two], accepted) == [
        (one, "accepted by the crew"),
        (two, "accepted by the crew"),
    ]
    assert closings([one, two], event(Point.C, minutes(9))) == []


LEADERS = [
    Leader(name="Wang", phone="+86 10 6500 0004"),
    Leader(name="Zhao", phone="+86 10 6500 0005"),
]


def crew_with(phone: str | None, name: str | None = None) -> Crew:
    return Crew(
        repair_center_id="rc-chaoyang",
        department="City supply station",
        trade="low_voltage",
        co_located=False,
        leaders=LEADERS,
        name=name,
        phone=phone,
    )


def test_the_on_duty_phone_is_the_crews_own_else_its_first_leaders() -> None:
    own = crew_contacts("crew-3", crew_with("+86 10 6500 0003", "Crew 3"))
    assert own.on_duty == Contact(
        name="Crew 3, on duty", phone="+86 10 6500 0003", role="crew_on_duty"
    )
    assert [c.role for c in own.leaders] == ["leader", "leader"]
    assert [(c.name, c.phone) for c in own.leaders] == [(x.name, x.phone) for x in LEADERS]
    borrowed = crew_contacts("crew-3", crew_with(None))
    assert borrowed.on_duty == Contact(name="Wang", phone="+86 10 6500 0004", role="crew_on_duty")
    center = repair_center_contact(RepairCenter(name="Chaoyang", phone="+86 10 6500 0001"))
    assert center.role == "repair_center"


def test_a_call_is_stamped_after_the_raise_and_not_in_the_future() -> None:
    raised_at, now = minutes(8), minutes(10)
    check_call_stamp(minutes(9), raised_at, now)
    check_call_stamp(raised_at - CALL_CLOCK_SLACK, raised_at, now)  # a console a little behind
    check_call_stamp(now + CALL_CLOCK_SLACK, raised_at, now)
    with pytest.raises(StampOutOfTolerance, match="before the escalation was raised") as before:
        check_call_stamp(minutes(6), raised_at, now)
    assert before.value.field == "called_at"
    with pytest.raises(StampOutOfTolerance, match="after our clock"):
        check_call_stamp(minutes(12), raised_at, now)


def test_a_call_key_is_the_same_instant_and_number_however_spelled() -> None:
    escalation = escalation_id(WO, EscalationRule.NOT_TAKEN, 1, WO)
    utc = minutes(9)
    beijing = utc.astimezone(timezone(timedelta(hours=8)))
    assert call_key(escalation, utc, "+86 10 6500 0003") == call_key(
        escalation, beijing, "+86-10-65000003"
    )
    assert call_key(escalation, utc, "+86 10 6500 0003") != call_key(
        escalation, utc + timedelta(seconds=1), "+86 10 6500 0003"
    )
    assert call_id(call_key(escalation, utc, "+8610")) == call_id(
        call_key(escalation, utc, "+8610")
    )


def test_a_phone_is_named_by_the_escalation_spaces_and_dashes_aside() -> None:
    events = dispatched_order()
    first, _ = timers_started_by(events[-1], POLICY)
    raised = decide_raise(first, state(*events), CENTER, CREW)
    assert raised is not None
    assert names_phone(raised, "+86-10-6500-0003")
    assert not names_phone(raised, "+86 10 6500 0004")  # a leader's: not level 1's contact
