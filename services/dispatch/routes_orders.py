"""The repair center's endpoints for an order: take it in (C), send it out (D), look at it."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response

from contracts import (
    Crew,
    Vehicle,
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderRecalled,
    WorkOrderReceivedPayload,
)
from domain.access import Ability, Principal, Role, require_center
from domain.errors import InvalidReference, NotFound
from domain.fleet import dispatch_warnings, rank_candidates
from domain.orders import OrderState, Outcome, decide_dispatch, decide_recall, decide_receipt
from services.common.answers import Recorded, recorded
from services.common.auth import Allow
from services.common.clock import utc_now
from services.common.commands import Follow, decide_and_append, decide_once, in_transaction
from services.common.db import Connection
from services.common.event_store import work_order_events
from services.common.http import RuntimeDep
from services.common.runtime import Runtime
from services.dispatch import effects, fleet, reference_data, scopes
from services.dispatch.api_models import (
    Attempt,
    CandidatesView,
    DispatchAnswer,
    DispatchRequest,
    OrderView,
    RecallBody,
    ReceiptRequest,
)
from services.dispatch.settings import dispatch_settings

router = APIRouter(prefix="/v1/work-orders", tags=["work orders"])
WorkOrderId = Annotated[UUID, Path(description="The id intake gave the work order.")]
Dispatcher = Annotated[Principal, Depends(Allow(Ability.ACT_ON_ORDERS))]
"""A dispatcher, acting only on the orders issued to its own repair center."""
Reader = Annotated[Principal, Depends(Allow(Ability.READ_DISPATCH))]


async def _own_order(runtime: Runtime, caller: Principal, wo: UUID, what: str) -> None:
    async with runtime.pool.acquire() as conn:
        await scopes.check_order(conn, caller, wo, what)


@router.post("/{work_order_id}/receipt", status_code=201, response_model=Recorded)
async def receipt(
    work_order_id: WorkOrderId,
    request: ReceiptRequest,
    runtime: RuntimeDep,
    response: Response,
    caller: Dispatcher,
) -> Recorded:
    """Point C: the order has arrived at the repair center it was issued to.

    The same receipt again is a replay; another body is 409 with the first one under `first`.
    A `received_at` further from our clock than the live-stamp tolerance is 422. Only the
    dispatcher of the repair center the order was issued to (and named in the body) may: 403.
    """
    scope_what = "take in an order"
    require_center(caller, request.repair_center_id, f"{scope_what} for repair center")
    await _own_order(runtime, caller, work_order_id, scope_what)
    payload = WorkOrderReceivedPayload(repair_center_id=request.repair_center_id)
    source = f"repair-center:{request.repair_center_id}"
    tolerance = _live_stamp_tolerance(runtime)
    outcome = await decide_once(
        runtime,
        work_order_id,
        lambda state: decide_receipt(
            state, payload, request.received_at, utc_now(), source, tolerance=tolerance
        ),
        _follow(runtime),
    )
    return recorded(outcome, response)


@router.post("/{work_order_id}/dispatch", status_code=201, response_model=DispatchAnswer)
async def dispatch(
    work_order_id: WorkOrderId,
    request: DispatchRequest,
    runtime: RuntimeDep,
    response: Response,
    caller: Dispatcher,
) -> DispatchAnswer:
    """Point D: the repair center sends the order to a crew and its vehicle's GPS unit.

    A vehicle holds a queue: a busy vehicle may be sent another order. `warnings` says what the
    dispatcher should know (the unit reported faulty, the vehicle not on standby). After a
    recall the order may be dispatched again (a new attempt, stamped after the recall).
    The same dispatch again is a replay; another body is 409 with the first one under `first`.
    A `dispatched_at` further from our clock than the live-stamp tolerance is 422. Only the
    dispatcher of the order's repair center may, and only with its own crews: 403.
    """
    await _own_order(runtime, caller, work_order_id, "dispatch an order")
    async with runtime.pool.acquire() as conn:
        crew = await reference_data.get(conn, Crew, request.crew_id)
        vehicle = await reference_data.get(conn, Vehicle, request.vehicle_id)
    require_center(caller, crew.repair_center_id, f"send crew {request.crew_id!r}")
    if vehicle.crew_id != request.crew_id:
        raise InvalidReference(
            "vehicle_id", f"vehicle {request.vehicle_id!r} belongs to crew {vehicle.crew_id!r}"
        )
    payload = WorkOrderDispatchedPayload(
        repair_center_id=crew.repair_center_id,
        crew_id=request.crew_id,
        vehicle_id=request.vehicle_id,
        dispatcher_id=request.dispatcher_id,
        crew_co_located=crew.co_located,
    )
    source = f"repair-center:{crew.repair_center_id}"
    tolerance = _live_stamp_tolerance(runtime)
    warnings: list[str] = []

    async def work(conn: Connection) -> Outcome[WorkOrderDispatched]:
        record = await fleet.vehicle(conn, request.vehicle_id)
        [before] = await fleet.with_states(conn, [record], leaving_out=work_order_id)
        outcome = await decide_and_append(
            conn,
            runtime.settings.topic_prefix,
            work_order_id,
            lambda state: decide_dispatch(
                state, payload, request.dispatched_at, utc_now(), source, tolerance=tolerance
            ),
            _follow(runtime),
        )
        warnings[:] = dispatch_warnings(before)
        return outcome

    outcome = await in_transaction(runtime, work)
    answer = recorded(outcome, response)
    return DispatchAnswer(**answer.model_dump(), warnings=warnings)


@router.post("/{work_order_id}/recall", status_code=201, response_model=Recorded)
async def recall(
    work_order_id: WorkOrderId,
    request: RecallBody,
    runtime: RuntimeDep,
    response: Response,
    caller: Dispatcher,
) -> Recorded:
    """Rule 4: take the order back from the vehicle it was sent to, even once it reached the GPS
    unit; it leaves the vehicle's queue and may be dispatched again. Every attempt stays in the
    order's history. 409 when nothing is dispatched, or the crew is already on site.

    The same recall again is a replay; another body for the same attempt is 409. A
    `recalled_at` further from our clock than the live-stamp tolerance is 422. Only the
    dispatcher of the order's repair center may: 403.
    """
    await _own_order(runtime, caller, work_order_id, "recall an order")
    tolerance = _live_stamp_tolerance(runtime)

    def decide(state: OrderState) -> Outcome[WorkOrderRecalled]:
        attempt = state.dispatched or (state.dispatches[-1] if state.dispatches else None)
        center = attempt.payload.repair_center_id if attempt else "unknown"
        return decide_recall(
            state,
            request.reason,
            request.requested_by,
            request.recalled_at,
            utc_now(),
            f"repair-center:{center}",
            tolerance=tolerance,
        )

    outcome = await decide_once(runtime, work_order_id, decide, _follow(runtime))
    return recorded(outcome, response)


@router.get("/{work_order_id}/candidates")
async def candidates(
    work_order_id: WorkOrderId, runtime: RuntimeDep, caller: Reader
) -> CandidatesView:
    """The vehicles of the repair center holding the order, ranked for it: right trade and
    department first, standby before busy, working GPS units before faulty ones, then nearest
    to the fault (great-circle distance from each vehicle's last reported position)."""
    async with runtime.pool.acquire() as conn:
        state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
        if state.issued is None:
            raise NotFound(f"no issued work order {work_order_id} has reached dispatch")
        issued = state.issued.payload
        require_center(caller, issued.repair_center_id, "read the candidates for an order")
        vehicles = await fleet.with_states(
            conn, await fleet.of_repair_center(conn, issued.repair_center_id)
        )
    fault_at = state.call.payload.location if state.call else None
    ranked = rank_candidates(issued.department, issued.trade, fault_at, vehicles)
    return CandidatesView.of(work_order_id, issued, fault_at, ranked)


@router.get("/{work_order_id}", response_model=OrderView)
async def work_order(work_order_id: WorkOrderId, runtime: RuntimeDep, caller: Reader) -> OrderView:
    """What dispatch knows of an order (404 until the issued order has reached dispatch)."""
    async with runtime.pool.acquire() as conn:
        state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    if not state.exists:
        raise NotFound(f"no work order {work_order_id} has reached dispatch")
    issued, received, dispatched = state.issued, state.received, state.dispatched
    if issued is not None or caller.role is Role.DEVICE:
        require_center(caller, issued.payload.repair_center_id if issued else None, "read an order")
    status = (
        "dispatched" if dispatched else "received" if received else "issued" if issued else "opened"
    )
    return OrderView(
        work_order_id=work_order_id,
        status=status,
        repair_center_id=issued.payload.repair_center_id if issued else None,
        crew_id=dispatched.payload.crew_id if dispatched else None,
        vehicle_id=dispatched.payload.vehicle_id if dispatched else None,
        issued_at=issued.occurred_at if issued else None,
        received_at=received.occurred_at if received else None,
        dispatched_at=dispatched.occurred_at if dispatched else None,
        crew_reports=[report.event_type for report in state.crew_reports],
        attempts=[_attempt(state, d) for d in state.dispatches],
        closed_at=state.closed.occurred_at if state.closed else None,
    )


def _attempt(state: OrderState, dispatched: WorkOrderDispatched) -> Attempt:
    recall = state.recall_of(dispatched)
    return Attempt(
        dispatch_event_id=dispatched.event_id,
        crew_id=dispatched.payload.crew_id,
        vehicle_id=dispatched.payload.vehicle_id,
        dispatched_at=dispatched.occurred_at,
        recalled_at=recall.occurred_at if recall else None,
        recall_reason=recall.payload.reason if recall else None,
        recalled_by=recall.payload.requested_by if recall else None,
        crew_reports=[r.event_type for r in state.reports_of(dispatched)],
    )


def _follow(runtime: Runtime) -> Follow:
    return effects.follower(dispatch_settings(runtime))


def _live_stamp_tolerance(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.live_stamp_tolerance_s)
