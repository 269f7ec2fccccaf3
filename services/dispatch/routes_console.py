"""The dispatcher's console: its page (static files, ``console/``), the vehicle board it shows,
and the stream that tells it when to fetch again."""

import json
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path
from sse_starlette import EventSourceResponse, ServerSentEvent

from contracts import RepairCenter
from domain.access import Ability, Principal, require_center
from services.common import web
from services.common.auth import Allow
from services.common.clock import utc_now
from services.common.edge import EdgeId
from services.common.http import RuntimeDep
from services.dispatch import board, fleet, reference_data
from services.dispatch.api_models import VehicleView
from services.dispatch.routes_vehicles import view_of
from services.dispatch.stream import CHANGES

PAGE = FilePath(__file__).parent / "console"
PAGE_AT = "/console"
HEARTBEAT_S = 15
"""A comment line this often keeps proxies (and the browser) from taking the stream for dead."""
RETRY_MS = 2000
"""How soon a browser's EventSource reconnects after the stream ends (a restart, say)."""

router = APIRouter(prefix="/v1/repair-centers", tags=["repair centers"])
Id = Annotated[EdgeId, Path(description="The repair center's id.")]
Reader = Annotated[Principal, Depends(Allow(Ability.READ_DISPATCH))]


@router.get("/{repair_center_id}/vehicles")
async def vehicle_board(
    repair_center_id: Id, runtime: RuntimeDep, caller: Reader
) -> list[VehicleView]:
    """The repair center's vehicles as the board shows them, by id: state, queue, last
    position, unit fault, unavailability. A dispatcher reads its own repair center's: 403."""
    require_center(caller, repair_center_id, "read the vehicles")
    async with runtime.pool.acquire() as conn:
        await reference_data.get(conn, RepairCenter, repair_center_id)  # 404 if unknown
        records = await fleet.of_repair_center(conn, repair_center_id)
        queues = {r.vehicle_id: await board.queue(conn, r.vehicle_id) for r in records}
    return [view_of(record, queues[record.vehicle_id]) for record in records]


@router.get("/{repair_center_id}/stream", include_in_schema=False)
async def stream(repair_center_id: Id, runtime: RuntimeDep, caller: Reader) -> EventSourceResponse:
    """Server-sent events for the console: ``changed`` (data: the repair center and a version)
    at once on connecting and whenever its inbox, vehicles, escalations or capacity alerts
    change; fetch the JSON again on each. A heartbeat comment every ``HEARTBEAT_S``; the stream
    ends when the service shuts down (the browser reconnects after ``RETRY_MS``). A dispatcher
    watches its own repair center only: 403. Not in the OpenAPI: it never ends by itself."""
    require_center(caller, repair_center_id, "watch the repair center")
    async with runtime.pool.acquire() as conn:
        await reference_data.get(conn, RepairCenter, repair_center_id)  # 404 if unknown

    async def events() -> AsyncIterator[ServerSentEvent]:
        async with CHANGES.watch(runtime.pool, repair_center_id) as changes:
            version = "connected"
            while True:
                at = utc_now().isoformat()
                data = {"repair_center_id": repair_center_id, "version": version, "at": at}
                yield ServerSentEvent(data=json.dumps(data), event="changed", retry=RETRY_MS)
                version = await changes.get()

    return EventSourceResponse(
        events(), ping=HEARTBEAT_S, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def mount(app: FastAPI) -> None:
    """Serve the console's page at ``/console/`` (open: the page holds no data)."""
    web.mount_page(app, PAGE_AT, PAGE)
