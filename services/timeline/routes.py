"""The auditors' and supervisors' endpoints: an order's timeline and its history."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime

from domain.errors import NotFound
from domain.policy import DEFAULT_POLICY
from domain.timeline import Timeline, compute_timeline
from services.common.clock import utc_now
from services.common.http import RuntimeDep
from services.timeline import store
from services.timeline.picture import render_svg

router = APIRouter(prefix="/v1/work-orders", tags=["timeline"])
WorkOrderId = Annotated[UUID, Path(description="The id intake gave the work order.")]
AsOf = Annotated[
    AwareDatetime | None,
    Query(description="Rebuild the picture as it stood at this instant (default: now)."),
]


@router.get("/{work_order_id}/timeline")
async def timeline(work_order_id: WorkOrderId, runtime: RuntimeDep, as_of: AsOf = None) -> Timeline:
    """The eight points, the seven segments against their limits, who answers, and anomalies."""
    now = as_of or utc_now()
    async with runtime.pool.acquire() as conn:
        events = await store.order_events(conn, work_order_id)
        incidents = await store.incidents_as_of(conn, now)
    if not events:
        raise NotFound(f"no events of work order {work_order_id} have reached the timeline")
    return compute_timeline(work_order_id, events, DEFAULT_POLICY, now, incidents)


@router.get("/{work_order_id}/timeline.svg", response_class=Response)
async def timeline_picture(
    work_order_id: WorkOrderId, runtime: RuntimeDep, as_of: AsOf = None
) -> Response:
    """The same timeline as a picture, for a person: open it in a browser."""
    judged = await timeline(work_order_id, runtime, as_of)
    return Response(render_svg(judged), media_type="image/svg+xml")


@router.get("/{work_order_id}/events")
async def events(work_order_id: WorkOrderId, runtime: RuntimeDep) -> list[store.HistoryEntry]:
    """Every event of the order as consumed: both clocks, Kafka topic/partition/offset, the body."""
    async with runtime.pool.acquire() as conn:
        rows = await store.history(conn, work_order_id)
    if not rows:
        raise NotFound(f"no events of work order {work_order_id} have reached the timeline")
    return rows
