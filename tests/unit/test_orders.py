"""The write side's rules: what a step may do to an order, and what a retry gets back."""

import itertools
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from contracts import (
    CallEnded,
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
    WorkOrderReceived,
    WorkOrderReceivedPayload,
)
from domain.errors import AlreadyRecorded, ImpossibleStep, NotFound, StampOutOfTolerance
from domain.orders import (
    CREW_REPORTS,
    OrderState,
    decide_crew_report,
    decide_dispatch,
    decide_issue,
    decide_receipt,
    open_work_order,
)
from tests.unit.factories import CALL

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
REC = T0 + timedelta(seconds=5)
TOL = timedelta(hours=1)
"""The live-stamp tolerance: wide enough for every stamp of these scripted orders."""
ISSUE = WorkOrderIssuedPayload(duty_chief_id="chief", repair_center_id="rc-1")
RECEIPT = WorkOrderReceivedPayload(repair_center_id="rc-1")
DISPATCH = WorkOrderDispatchedPayload(
    repair_center_id="rc-1",
    crew_id="crew-1",
    vehicle_id="veh-1",
    dispatcher_id="d",
    crew_co_located=True,
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def dispatched() -> OrderState:
    call = open_work_order(CALL, T0, REC, "phone-system", tolerance=TOL)
    wo = call.work_order_id
    issued = decide_issue(
        OrderState.fold(wo, [call]), ISSUE, at(1), REC, "phone-system", tolerance=TOL
    ).event
    state = OrderState.fold(wo, [call, issued])
    received = decide_receipt(state, RECEIPT, at(2), REC, "repair-center:rc-1", tolerance=TOL).event
    state = OrderState.fold(wo, [call, issued, received])
    sent = decide_dispatch(state, DISPATCH, at(3), REC, "repair-center:rc-1", tolerance=TOL).event
    return OrderState.fold(wo, [call, issued, received, sent])


def steps(
    state: OrderState,
) -> tuple[CallEnded, WorkOrderIssued, WorkOrderReceived, WorkOrderDispatched]:
    assert state.call
    assert state.issued
    assert state.received
    assert state.dispatched
    return state.call, state.issued, state.received, state.dispatched


def test_every_step_is_caused_by_the_one_before_and_shares_the_story() -> None:
    chain = steps(dispatched())
    assert {e.correlation_id for e in chain} == {chain[0].event_id}
    for cause, effect in itertools.pairwise(chain):
        assert effect.causation_id == cause.event_id


def test_a_retried_step_returns_the_stored_event_and_another_body_is_refused() -> None:
    state = dispatched()
    again = decide_receipt(state, RECEIPT, at(2), REC + timedelta(minutes=9), "x", tolerance=TOL)
    assert (again.is_new, again.event) == (False, state.received)
    with pytest.raises(ImpossibleStep, match="already received"):
        decide_receipt(state, RECEIPT, at(2.5), REC, "x", tolerance=TOL)
    other_crew = DISPATCH.model_copy(update={"crew_id": "crew-2", "vehicle_id": "veh-2"})
    with pytest.raises(ImpossibleStep, match="already dispatched"):
        decide_dispatch(state, other_crew, at(3), REC, "x", tolerance=TOL)


def test_another_body_for_a_step_is_refused_with_the_first_bodys_facts() -> None:
    state = dispatched()
    with pytest.raises(AlreadyRecorded) as later:
        decide_receipt(state, RECEIPT, at(2.5), REC, "x", tolerance=TOL)
    assert later.value.differs == ("received_at",)
    assert later.value.first == {"received_at": "2026-11-23T08:02:00Z", "repair_center_id": "rc-1"}
    assert "received_at differs" in str(later.value)
    other_crew = DISPATCH.model_copy(update={"crew_id": "crew-2", "vehicle_id": "veh-2"})
    with pytest.raises(AlreadyRecorded) as elsewhere:
        decide_dispatch(state, other_crew, at(3), REC, "x", tolerance=TOL)
    assert elsewhere.value.differs == ("crew_id", "vehicle_id")
    assert elsewhere.value.first == {
        "dispatched_at": "2026-11-23T08:03:00Z",
        **DISPATCH.model_dump(mode="json"),
    }
    other_chief = ISSUE.model_copy(update={"duty_chief_id": "chief-2"})
    with pytest.raises(AlreadyRecorded) as reissued:
        decide_issue(state, other_chief, at(1.5), REC, "x", tolerance=TOL)
    assert reissued.value.differs == ("issued_at", "duty_chief_id")
    assert reissued.value.first == {
        "issued_at": "2026-11-23T08:01:00Z",
        **ISSUE.model_dump(mode="json"),
    }


def test_a_retry_is_the_same_instant_in_any_offset_and_replays_however_late() -> None:
    state = dispatched()
    beijing = at(3).astimezone(timezone(timedelta(hours=8)))
    days_later = at(3) + timedelta(days=40)  # far beyond the tolerance: still only a retry
    again = decide_dispatch(state, DISPATCH, beijing, days_later, "x", tolerance=TOL)
    assert (again.is_new, again.event) == (False, state.dispatched)


def test_a_live_stamp_beyond_the_tolerance_of_our_clock_is_refused_at_its_field() -> None:
    call, issued, received, _ = steps(dispatched())
    wo = call.work_order_id
    tight = timedelta(minutes=2)
    with pytest.raises(StampOutOfTolerance) as a:
        open_work_order(CALL, REC + timedelta(minutes=3), REC, "x", tolerance=tight)
    assert (a.value.field, a.value.tolerance) == ("ended_at", tight)
    opened = OrderState.fold(wo, [call])
    with pytest.raises(StampOutOfTolerance, match=r"issued_at .* lies 1 h 1 min before"):
        decide_issue(opened, ISSUE, T0 - timedelta(hours=1), at(1), "x", tolerance=tight)
    taken = OrderState.fold(wo, [call, issued])
    with pytest.raises(StampOutOfTolerance) as c:
        decide_receipt(taken, RECEIPT, at(2), at(2) + timedelta(seconds=121), "x", tolerance=tight)
    assert c.value.field == "received_at"
    held = OrderState.fold(wo, [call, issued, received])
    with pytest.raises(StampOutOfTolerance) as d:
        decide_dispatch(held, DISPATCH, at(30), at(3), "x", tolerance=tight)
    assert d.value.field == "dispatched_at"
    # Within the tolerance, either way, the step is taken.
    edge = decide_dispatch(held, DISPATCH, at(3), at(5), "x", tolerance=tight)
    assert edge.is_new


def test_unknown_orders_are_not_found() -> None:
    empty = OrderState(uuid4())
    with pytest.raises(NotFound):
        decide_issue(empty, ISSUE, at(1), REC, "x", tolerance=TOL)
    with pytest.raises(NotFound):
        decide_receipt(empty, RECEIPT, at(2), REC, "x", tolerance=TOL)
    with pytest.raises(NotFound):
        decide_crew_report(empty, "arrived", "veh-1", "r", None, at(9), REC)


def test_steps_out_of_their_order_contradict_the_order() -> None:
    call = open_work_order(CALL, T0, REC, "phone-system", tolerance=TOL)
    opened = OrderState.fold(call.work_order_id, [call])
    with pytest.raises(ImpossibleStep, match="not been issued"):
        decide_receipt(opened, RECEIPT, at(2), REC, "x", tolerance=TOL)
    issued = OrderState.fold(
        call.work_order_id,
        [call, decide_issue(opened, ISSUE, at(1), REC, "x", tolerance=TOL).event],
    )
    with pytest.raises(ImpossibleStep, match="not been received"):
        decide_dispatch(issued, DISPATCH, at(3), REC, "x", tolerance=TOL)
    with pytest.raises(ImpossibleStep, match="never dispatched"):
        decide_crew_report(issued, "order_received", "veh-1", "r", None, at(4), REC)


def test_only_the_repair_center_issued_to_takes_the_order_in_and_sends_it_out() -> None:
    call, issued, received, _ = steps(dispatched())
    call_only = OrderState.fold(call.work_order_id, [call, issued])
    with pytest.raises(ImpossibleStep, match="issued to repair center 'rc-1', not 'rc-2'"):
        decide_receipt(
            call_only,
            WorkOrderReceivedPayload(repair_center_id="rc-2"),
            at(2),
            REC,
            "x",
            tolerance=TOL,
        )
    taken_in = OrderState.fold(call.work_order_id, [call, issued, received])
    with pytest.raises(ImpossibleStep, match="held by repair center 'rc-1'"):
        decide_dispatch(
            taken_in,
            DISPATCH.model_copy(update={"repair_center_id": "rc-2"}),
            at(3),
            REC,
            "x",
            tolerance=TOL,
        )


@pytest.mark.parametrize("report_type", sorted(CREW_REPORTS))
def test_the_dispatched_vehicle_may_report_any_step_at_any_time(report_type: str) -> None:
    state = dispatched()
    # Even stamped before the dispatch (a drifting clock), or posted a day late by a unit that
    # was offline: crew reports are not bound by the live-stamp tolerance; the timeline judges.
    outcome = decide_crew_report(state, report_type, "veh-1", "r-1", None, at(-5), REC)
    assert decide_crew_report(state, report_type, "veh-1", "r-0", None, at(5), at(24 * 60)).is_new
    event = outcome.event
    assert isinstance(event, CREW_REPORTS[report_type])
    assert (event.payload.crew_id, event.source, event.causation_id) == (
        "crew-1",
        "gps-unit:veh-1",
        steps(state)[3].event_id,
    )
    with pytest.raises(ImpossibleStep, match="never dispatched to vehicle 'veh-9'"):
        decide_crew_report(state, report_type, "veh-9", "r-2", None, at(5), REC)
