"""Issuing (point B) and closing (the callback) an order: decide, then record, in one transaction."""

from datetime import timedelta
from uuid import UUID

from contracts import (
    WorkOrderClosed,
    WorkOrderClosedPayload,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
)
from domain.orders import Outcome, decide_close, decide_issue
from domain.routing import decide_routed_issue
from services.common.clock import utc_now
from services.common.commands import decide_and_append, decide_once, in_transaction
from services.common.db import Connection
from services.common.runtime import Runtime
from services.intake import routing_rules
from services.intake.api_models import CallbackRequest, IssueRequest
from services.intake.calls import SOURCE


def _tolerance(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.live_stamp_tolerance_s)


async def issue(
    runtime: Runtime, work_order_id: UUID, request: IssueRequest
) -> Outcome[WorkOrderIssued]:
    """Point B, to the repair center the duty chief names, or to the one the rules choose.

    Routed, the rules are read in the transaction that decides and records the issue, so the
    event names a rule intake knew when it recorded it (and a retry after contention routes
    again against what is known then).
    """
    tolerance = _tolerance(runtime)
    if request.repair_center_id is not None:
        payload = WorkOrderIssuedPayload(
            duty_chief_id=request.duty_chief_id,
            repair_center_id=request.repair_center_id,
            department=request.department,
            trade=request.trade,
        )
        return await decide_once(
            runtime,
            work_order_id,
            lambda state: decide_issue(
                state, payload, request.issued_at, utc_now(), SOURCE, tolerance=tolerance
            ),
        )
    prefix = runtime.settings.topic_prefix

    async def routed(conn: Connection) -> Outcome[WorkOrderIssued]:
        rules = await routing_rules.known(conn)
        return await decide_and_append(
            conn,
            prefix,
            work_order_id,
            lambda state: decide_routed_issue(
                state,
                request.duty_chief_id,
                request.issued_at,
                rules,
                utc_now(),
                SOURCE,
                tolerance=tolerance,
            ),
        )

    return await in_transaction(runtime, routed)


async def close(
    runtime: Runtime, work_order_id: UUID, request: CallbackRequest
) -> Outcome[WorkOrderClosed]:
    """The customer was called back: the order is closed, once."""
    payload = WorkOrderClosedPayload.model_validate(request.model_dump(exclude={"called_back_at"}))
    tolerance = _tolerance(runtime)
    return await decide_once(
        runtime,
        work_order_id,
        lambda state: decide_close(
            state, payload, request.called_back_at, utc_now(), SOURCE, tolerance=tolerance
        ),
    )
