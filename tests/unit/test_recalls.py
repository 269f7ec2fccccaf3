"""Rule 4 on the write side: a recall ends the attempt under way, and the order may go again."""

from datetime import timedelta

import pytest

from contracts import (
    WorkOrderClosedPayload,
    WorkOrderDispatched,
    WorkOrderEventT,
    WorkOrderRecalled,
)
from domain.errors import AlreadyRecorded, ImpossibleStep, NotFound, StampOutOfTolerance
from domain.orders import (
    OrderState,
    decide_close,
    decide_crew_report,
    decide_dispatch,
    decide_recall,
)
from tests.unit.test_orders import DISPATCH, REC, TOL, at, dispatched

CENTER = "repair-center:rc-1"


def recalled(state: OrderState, minutes: float = 4) -> tuple[OrderState, WorkOrderRecalled]:
    recall = decide_recall(state, "not ours: 10 kV", "d-1", at(minutes), REC, CENTER).event
    return _fold(state, recall), recall


def _fold(state: OrderState, *more: WorkOrderEventT) -> OrderState:
    """The state with ``more`` events after those it holds."""
    held: list[WorkOrderEventT | None] = [state.call, state.issued, state.received]
    held += [*state.dispatches, *state.recalls, *state.crew_reports, *more]
    return OrderState.fold(state.work_order_id, [e for e in held if e is not None])


def test_a_recall_ends_the_attempt_and_names_it() -> None:
    state = dispatched()
    attempt = state.dispatched
    assert attempt is not None
    after, recall = recalled(state)
    assert recall.payload.dispatch_event_id == attempt.event_id
    assert recall.payload.vehicle_id == "veh-1"
    assert recall.causation_id == attempt.event_id
    assert after.dispatched is None
    assert after.recall_of(attempt) == recall


def test_the_same_recall_again_replays_and_another_body_is_refused() -> None:
    after, recall = recalled(dispatched())
    again = decide_recall(after, "not ours: 10 kV", "d-1", at(4), REC, CENTER)
    assert (again.event, again.is_new) == (recall, False)
    with pytest.raises(AlreadyRecorded) as refused:
        decide_recall(after, "another reason", "d-1", at(4), REC, CENTER)
    assert refused.value.differs == ("reason",)


def test_nothing_to_recall_before_a_dispatch_or_once_the_crew_is_on_site() -> None:
    state = dispatched()
    undispatched = OrderState.fold(
        state.work_order_id, [e for e in (state.call, state.issued, state.received) if e]
    )
    with pytest.raises(ImpossibleStep, match="not dispatched"):
        decide_recall(undispatched, "r", "d", at(4), REC, CENTER)
    arrived = decide_crew_report(state, "arrived", "veh-1", "r-1", None, at(10), REC).event
    with pytest.raises(ImpossibleStep, match="on site"):
        decide_recall(_fold(state, arrived), "r", "d", at(11), REC, CENTER)
    with pytest.raises(ImpossibleStep, match="before the dispatch"):
        decide_recall(state, "r", "d", at(2), REC, CENTER)
    with pytest.raises(NotFound):
        decide_recall(OrderState(state.work_order_id), "r", "d", at(4), REC, CENTER)
    with pytest.raises(StampOutOfTolerance):
        decide_recall(state, "r", "d", at(400), REC, CENTER, tolerance=TOL)


def test_after_a_recall_the_order_goes_again_but_not_before_the_recall() -> None:
    after, _ = recalled(dispatched(), minutes=5)
    other = DISPATCH.model_copy(update={"crew_id": "crew-2", "vehicle_id": "veh-2"})
    with pytest.raises(ImpossibleStep, match="before the recall"):
        decide_dispatch(after, other, at(4), REC, CENTER, tolerance=TOL)
    second = decide_dispatch(after, other, at(6), REC, CENTER, tolerance=TOL)
    assert second.is_new
    again = _fold(after, second.event)
    assert isinstance(again.dispatched, WorkOrderDispatched)
    assert again.dispatched.payload.vehicle_id == "veh-2"
    assert len(again.dispatches) == 2


def test_the_recalled_vehicle_can_no_longer_report_on_the_order() -> None:
    after, _ = recalled(dispatched())
    with pytest.raises(ImpossibleStep, match="never dispatched to vehicle 'veh-1'"):
        decide_crew_report(after, "order_accepted", "veh-1", "r-9", None, at(5), REC)


CLOSE = WorkOrderClosedPayload(satisfied=True, comment="power back at 09:10")


def test_the_callback_closes_the_order_once() -> None:
    state = dispatched()
    closed = decide_close(state, CLOSE, at(40), REC + timedelta(minutes=40), "p", tolerance=TOL)
    assert closed.is_new
    after = _fold(state, closed.event)
    assert after.done
    again = decide_close(after, CLOSE, at(40), REC, "p", tolerance=TOL)
    assert (again.event, again.is_new) == (closed.event, False)
    with pytest.raises(AlreadyRecorded):
        decide_close(
            after, CLOSE.model_copy(update={"satisfied": False}), at(40), REC, "p", tolerance=TOL
        )


def test_no_callback_for_an_order_never_issued_nor_with_a_far_stamp() -> None:
    state = dispatched()
    only_call = OrderState.fold(state.work_order_id, [state.call] if state.call else [])
    with pytest.raises(ImpossibleStep, match="never issued"):
        decide_close(only_call, CLOSE, at(40), REC, "p", tolerance=TOL)
    with pytest.raises(NotFound):
        decide_close(OrderState(state.work_order_id), CLOSE, at(40), REC, "p", tolerance=TOL)
    with pytest.raises(StampOutOfTolerance):
        decide_close(state, CLOSE, at(400), REC, "p", tolerance=TOL)
