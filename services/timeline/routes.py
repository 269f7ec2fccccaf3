"""The auditors' and supervisors' endpoints: an order's timeline and its history."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime

from domain.access import Ability
from domain.errors import NotFound
from domain.timeline import Timeline, judge
from services.common.auth import allow
from services.common.clock import utc_now
from services.common.http import RuntimeDep
from services.common.personal import redacted
from services.timeline import store
from services.timeline.picture import render_svg
from services.timeline.policies import configured_book
from services.timeline.rejudging import rejudged_timeline

router = APIRouter(
    prefix="/v1/work-orders", tags=["timeline"], dependencies=[allow(Ability.READ_ALL)]
)
WorkOrderId = Annotated[UUID, Path(description="The id intake gave the work order.")]
AsOf = Annotated[
    AwareDatetime | None,
    Query(description="Rebuild the picture as it stood at this instant (default: now)."),
]


PolicyVersion = Annotated[
    str | None,
    Query(
        description="The answer a re-judgement (POST /v1/rejudgements) stored under this "
        "version, judged at the order's recorded clock (default: the live answer, under the "
        "policy in force at A)."
    ),
]


@router.get("/{work_order_id}/timeline")
async def timeline(
    work_order_id: WorkOrderId,
    runtime: RuntimeDep,
    as_of: AsOf = None,
    policy_version: PolicyVersion = None,
) -> Timeline:
    """The eight points, the seven segments against their limits, who answers, and anomalies."""
    if policy_version is not None:
        async with runtime.pool.acquire() as conn:
            rejudged = await rejudged_timeline(conn, work_order_id, policy_version)
        if rejudged is None:
            raise NotFound(
                f"work order {work_order_id} has not been re-judged under {policy_version!r}"
            )
        return rejudged
    now = as_of or utc_now()
    async with runtime.pool.acquire() as conn:
        events = await store.order_events(conn, work_order_id)
        incidents = await store.incidents_as_of(conn, now)
    if not events:
        raise NotFound(f"no events of work order {work_order_id} have reached the timeline")
    return judge(work_order_id, events, configured_book(), now, incidents)


@router.get("/{work_order_id}/timeline.svg", response_class=Response)
async def timeline_picture(
    work_order_id: WorkOrderId, runtime: RuntimeDep, as_of: AsOf = None
) -> Response:
    """The same timeline as a picture, for a person: open it in a browser."""
    judged = await timeline(work_order_id, runtime, as_of)
    return Response(render_svg(judged), media_type="image/svg+xml")


@router.get("/{work_order_id}/events")
async def events(work_order_id: WorkOrderId, runtime: RuntimeDep) -> list[store.HistoryEntry]:
    """Every event of the order as consumed: both clocks, Kafka topic/partition/offset, the body.

    The caller's name, phone and address are redacted from the call's body: the timeline's
    readers judge the order, not the caller."""
    async with runtime.pool.acquire() as conn:
        rows = await store.history(conn, work_order_id)
    if not rows:
        raise NotFound(f"no events of work order {work_order_id} have reached the timeline")
    return [row.model_copy(update={"body": redacted(row.body)}) for row in rows]
