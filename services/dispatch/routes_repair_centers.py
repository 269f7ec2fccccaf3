"""What a repair center watches: its inbox of open orders, and the capacity alerts (rule 5)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime

from contracts import RepairCenter
from contracts.access import Role
from domain.access import Ability, Principal, require_center
from domain.board import OrderStatus
from domain.policy import DEFAULT_POLICY
from services.common.auth import Allow
from services.common.clock import utc_now
from services.common.edge import EdgeId
from services.common.http import RuntimeDep
from services.dispatch import board, capacity, reference_data
from services.dispatch.api_models import CapacityAlerts, Inbox, InboxOrder

router = APIRouter(prefix="/v1", tags=["repair centers"])
Id = Annotated[EdgeId, Path(description="The repair center's id.")]
Reader = Annotated[Principal, Depends(Allow(Ability.READ_DISPATCH))]
_WAITING = (OrderStatus.ISSUED, OrderStatus.RECEIVED, OrderStatus.DISPATCHED)


@router.get("/repair-centers/{repair_center_id}/orders")
async def inbox(
    repair_center_id: Id,
    runtime: RuntimeDep,
    caller: Reader,
    status: Annotated[
        list[OrderStatus] | None,
        Query(description="issued, received or dispatched (repeat for several); default all."),
    ] = None,
) -> Inbox:
    """The repair center's open orders, oldest first, each with the segment it is in and the
    time left before that segment's limit (negative: overdue). Issued orders are those the
    95598 center sent and the repair center has not taken in yet (C). A dispatcher reads its
    own repair center's only: 403."""
    require_center(caller, repair_center_id, "read the orders")
    wanted = [s for s in status or _WAITING if s in _WAITING]
    now = utc_now()
    async with runtime.pool.acquire() as conn:
        await reference_data.get(conn, RepairCenter, repair_center_id)  # 404 if unknown
        entries = await board.inbox(conn, repair_center_id, wanted)
    items = []
    for e in entries:
        running = e.running(DEFAULT_POLICY, now)
        items.append(
            InboxOrder(
                work_order_id=e.work_order_id,
                status=e.status.value,
                points={p.value: t for p, t in e.points.items()},
                running_segment=running.segment.value if running else None,
                segment_started_at=running.started_at if running else None,
                limit_s=running.limit_s if running else None,
                time_left_s=round(running.left_s, 1) if running else None,
                department=e.department,
                trade=e.trade,
                vehicle_id=e.vehicle_id,
                crew_id=e.crew_id,
                address=e.address,
                fault_category=e.fault_category,
            )
        )
    return Inbox(repair_center_id=repair_center_id, as_of=now, items=items)


@router.get("/capacity-alerts")
async def capacity_alerts(
    runtime: RuntimeDep,
    caller: Reader,
    repair_center_id: Annotated[EdgeId | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(description="Raised at or after.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CapacityAlerts:
    """Rule 5: departments and trades whose vehicles were all busy too often inside the window,
    newest first, each with the blocked orders and the leaders to tell. A dispatcher reads its
    own repair center's (name it, or it is taken as the filter)."""
    if caller.role is Role.DISPATCHER:
        repair_center_id = repair_center_id or caller.repair_center_id
    if caller.role in (Role.DISPATCHER, Role.DEVICE):
        require_center(caller, repair_center_id, "read the capacity alerts")
    async with runtime.pool.acquire() as conn:
        raised = await capacity.alerts(conn, repair_center_id, since, limit)
    return CapacityAlerts(
        items=[
            {**a.payload.model_dump(mode="json"), "raised_at": a.recorded_at.isoformat()}
            for a in raised
        ]
    )
