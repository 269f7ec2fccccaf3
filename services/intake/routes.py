"""The phone system's endpoints: parse, call one handler, answer."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status

from contracts import WorkOrderIssuedPayload
from domain.errors import NotFound
from domain.orders import OrderState, decide_issue
from services.common.answers import Recorded, answered, recorded
from services.common.clock import utc_now
from services.common.commands import decide_once
from services.common.event_store import work_order_events
from services.common.http import RuntimeDep
from services.intake.api_models import CallRequest, IssueRequest, WorkOrderView
from services.intake.calls import SOURCE, record_call

router = APIRouter(prefix="/v1", tags=["work orders"])
WorkOrderId = Annotated[UUID, Path(description="The id intake gave the work order.")]


@router.post("/calls", status_code=status.HTTP_201_CREATED, response_model=Recorded)
async def call_ended(request: CallRequest, runtime: RuntimeDep, response: Response) -> Recorded:
    """Point A: a customer call has ended; opens a work order (once per `call_id`).

    The same call again answers the same work order (`Idempotent-Replay: true`); the same
    `call_id` with other details is 409, naming the fields that differ (never the caller's).
    An `ended_at` further from our clock than the live-stamp tolerance is 422.
    """
    answer = await record_call(runtime, request)
    response.headers["Location"] = f"/v1/work-orders/{answer.body.work_order_id}"
    return answered(answer, response)


@router.post("/work-orders/{work_order_id}/issue", status_code=201, response_model=Recorded)
async def issue(
    work_order_id: WorkOrderId, request: IssueRequest, runtime: RuntimeDep, response: Response
) -> Recorded:
    """Point B: the duty chief issues the order to a repair center.

    The same issue again is a replay; another body is 409 with the first one under `first`. An
    `issued_at` further from our clock than the live-stamp tolerance is 422.
    """
    payload = WorkOrderIssuedPayload.model_validate(request.model_dump(exclude={"issued_at"}))
    tolerance = timedelta(seconds=runtime.settings.live_stamp_tolerance_s)
    outcome = await decide_once(
        runtime,
        work_order_id,
        lambda state: decide_issue(
            state, payload, request.issued_at, utc_now(), SOURCE, tolerance=tolerance
        ),
    )
    return recorded(outcome, response)


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderView)
async def work_order(work_order_id: WorkOrderId, runtime: RuntimeDep) -> WorkOrderView:
    """What intake knows of an order: the call and whether it has been issued."""
    async with runtime.pool.acquire() as conn:
        state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    if state.call is None:
        raise NotFound(f"no work order {work_order_id}")
    return WorkOrderView(
        work_order_id=work_order_id,
        call_id=state.call.payload.call_id,
        ended_at=state.call.occurred_at,
        issued_at=state.issued.occurred_at if state.issued else None,
        repair_center_id=state.issued.payload.repair_center_id if state.issued else None,
    )
