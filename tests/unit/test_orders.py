"""The write side's rules: what a step may do to an order, and what a retry gets back."""

import itertools
from datetime import UTC, datetime, timedelta
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
from domain.errors import ImpossibleStep, NotFound
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
    call = open_work_order(CALL, T0, REC, "phone-system")
    wo = call.work_order_id
    issued = decide_issue(OrderState.fold(wo, [call]), ISSUE, at(1), REC, "phone-system").event
    state = OrderState.fold(wo, [call, issued])
    received = decide_receipt(state, RECEIPT, at(2), REC, "repair-center:rc-1").event
    state = OrderState.fold(wo, [call, issued, received])
    sent = decide_dispatch(state, DISPATCH, at(3), REC, "repair-center:rc-1").event
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
    again = decide_receipt(state, RECEIPT, at(2), REC + timedelta(minutes=9), "x")
    assert (again.is_new, again.event) == (False, state.received)
    with pytest.raises(ImpossibleStep, match="already received"):
        decide_receipt(state, RECEIPT, at(2.5), REC, "x")
    other_crew = DISPATCH.model_copy(update={"crew_id": "crew-2", "vehicle_id": "veh-2"})
    with pytest.raises(ImpossibleStep, match="already dispatched"):
        decide_dispatch(state, other_crew, at(3), REC, "x")


def test_unknown_orders_are_not_found() -> None:
    empty = OrderState(uuid4())
    with pytest.raises(NotFound):
        decide_issue(empty, ISSUE, at(1), REC, "x")
    with pytest.raises(NotFound):
        decide_receipt(empty, RECEIPT, at(2), REC, "x")
    with pytest.raises(NotFound):
        decide_crew_report(empty, "arrived", "veh-1", "r", None, at(9), REC)


def test_steps_out_of_their_order_contradict_the_order() -> None:
    call = open_work_order(CALL, T0, REC, "phone-system")
    opened = OrderState.fold(call.work_order_id, [call])
    with pytest.raises(ImpossibleStep, match="not been issued"):
        decide_receipt(opened, RECEIPT, at(2), REC, "x")
    issued = OrderState.fold(
        call.work_order_id, [call, decide_issue(opened, ISSUE, at(1), REC, "x").event]
    )
    with pytest.raises(ImpossibleStep, match="not been received"):
        decide_dispatch(issued, DISPATCH, at(3), REC, "x")
    with pytest.raises(ImpossibleStep, match="never dispatched"):
        decide_crew_report(issued, "order_received", "veh-1", "r", None, at(4), REC)


def test_only_the_repair_center_issued_to_takes_the_order_in_and_sends_it_out() -> None:
    call, issued, received, _ = steps(dispatched())
    call_only = OrderState.fold(call.work_order_id, [call, issued])
    with pytest.raises(ImpossibleStep, match="issued to repair center 'rc-1', not 'rc-2'"):
        decide_receipt(
            call_only, WorkOrderReceivedPayload(repair_center_id="rc-2"), at(2), REC, "x"
        )
    taken_in = OrderState.fold(call.work_order_id, [call, issued, received])
    with pytest.raises(ImpossibleStep, match="held by repair center 'rc-1'"):
        decide_dispatch(
            taken_in, DISPATCH.model_copy(update={"repair_center_id": "rc-2"}), at(3), REC, "x"
        )


@pytest.mark.parametrize("report_type", sorted(CREW_REPORTS))
def test_the_dispatched_vehicle_may_report_any_step_at_any_time(report_type: str) -> None:
    state = dispatched()
    # Even stamped before the dispatch (a drifting clock): the timeline judges it, nothing is lost.
    outcome = decide_crew_report(state, report_type, "veh-1", "r-1", None, at(-5), REC)
    event = outcome.event
    assert isinstance(event, CREW_REPORTS[report_type])
    assert (event.payload.crew_id, event.source, event.causation_id) == (
        "crew-1",
        "gps-unit:veh-1",
        steps(state)[3].event_id,
    )
    with pytest.raises(ImpossibleStep, match="never dispatched to vehicle 'veh-9'"):
        decide_crew_report(state, report_type, "veh-9", "r-2", None, at(5), REC)
