"""The phone system's endpoints: parse, call one handler, answer."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status
from fastapi.exceptions import RequestValidationError

from domain.access import Ability
from domain.errors import NotFound
from domain.orders import OrderState
from domain.routing import latest_definitions
from services.common.answers import Recorded, answered, recorded
from services.common.auth import allow
from services.common.event_store import work_order_events
from services.common.http import RuntimeDep
from services.intake import orders, routing_rules
from services.intake.api_models import (
    CallbackRequest,
    CallRequest,
    IssueRequest,
    RoutingRules,
    WorkOrderView,
)
from services.intake.calls import record_call

router = APIRouter(prefix="/v1", tags=["work orders"])
WRITE = [allow(Ability.RECORD_CALLS)]
"""Intake's writes are the phone system's."""
READ = [allow(Ability.READ_INTAKE)]
WorkOrderId = Annotated[UUID, Path(description="The id intake gave the work order.")]


@router.post(
    "/calls", status_code=status.HTTP_201_CREATED, response_model=Recorded, dependencies=WRITE
)
async def call_ended(request: CallRequest, runtime: RuntimeDep, response: Response) -> Recorded:
    """Point A: a customer call has ended; opens a work order (once per `call_id`).

    The same call again answers the same work order (`Idempotent-Replay: true`); the same
    `call_id` with other details is 409, naming the fields that differ (never the caller's).
    An `ended_at` further from our clock than the live-stamp tolerance is 422.
    """
    answer = await record_call(runtime, request)
    response.headers["Location"] = f"/v1/work-orders/{answer.body.work_order_id}"
    return answered(answer, response)


@router.post(
    "/work-orders/{work_order_id}/issue",
    status_code=201,
    response_model=Recorded,
    dependencies=WRITE,
)
async def issue(
    work_order_id: WorkOrderId, request: IssueRequest, runtime: RuntimeDep, response: Response
) -> Recorded:
    """Point B: the duty chief issues the order to a repair center.

    Without `repair_center_id` the routing rules intake knows choose the repair center,
    department and trade from the call's fault and district (the event names the rule); when
    none matches, 422 at `repair_center_id` and nothing is recorded. The same issue again is a
    replay (a routed one too, whatever the rules say since); another body is 409 with the first
    one under `first`. An `issued_at` further from our clock than the live-stamp tolerance is 422.
    """
    if request.repair_center_id is None:
        given = [name for name in ("department", "trade") if getattr(request, name) is not None]
        if given:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", name),
                        "msg": f"{name} is the routing rule's when no repair_center_id is "
                        "named: name the repair center too, or leave it out",
                        "type": "routed_field",
                    }
                    for name in given
                ]
            )
    outcome = await orders.issue(runtime, work_order_id, request)
    return recorded(outcome, response)


@router.post(
    "/work-orders/{work_order_id}/callback",
    status_code=201,
    response_model=Recorded,
    dependencies=WRITE,
)
async def callback(
    work_order_id: WorkOrderId, request: CallbackRequest, runtime: RuntimeDep, response: Response
) -> Recorded:
    """The 95598 center called the customer back: closes the order, once.

    The same callback again is a replay; another body is 409 with the first one under `first`;
    an order never issued is 409; a `called_back_at` further from our clock than the
    live-stamp tolerance is 422.
    """
    outcome = await orders.close(runtime, work_order_id, request)
    return recorded(outcome, response)


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderView, dependencies=READ)
async def work_order(work_order_id: WorkOrderId, runtime: RuntimeDep) -> WorkOrderView:
    """What intake knows of an order: the call, whether and where it was issued, the callback."""
    async with runtime.pool.acquire() as conn:
        state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    if state.call is None:
        raise NotFound(f"no work order {work_order_id}")
    issued = state.issued.payload if state.issued else None
    return WorkOrderView(
        work_order_id=work_order_id,
        call_id=state.call.payload.call_id,
        ended_at=state.call.occurred_at,
        issued_at=state.issued.occurred_at if state.issued else None,
        repair_center_id=issued.repair_center_id if issued else None,
        department=issued.department if issued else None,
        trade=issued.trade if issued else None,
        routing_rule_id=issued.routing_rule_id if issued else None,
        closed_at=state.closed.occurred_at if state.closed else None,
        satisfied=state.closed.payload.satisfied if state.closed else None,
    )


@router.get(
    "/routing-rules", response_model=RoutingRules, tags=["routing rules"], dependencies=READ
)
async def known_routing_rules(runtime: RuntimeDep) -> RoutingRules:
    """The routing rules as intake knows them now (heard from dispatch), retired ones too."""
    async with runtime.pool.acquire() as conn:
        rules = await routing_rules.known(conn)
    return RoutingRules(items=list(latest_definitions(rules).values()))
