"""What GPS units post to dispatch, and what dispatch knows of each vehicle."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from contracts.envelope import Identifier
from services.common.answers import answered
from services.common.http import RuntimeDep
from services.dispatch.api_models import Report, ReportAnswer
from services.dispatch.reports import record_report

router = APIRouter(prefix="/v1")
Id = Annotated[Identifier, Path()]


@router.post("/vehicles/{vehicle_id}/reports", status_code=201, tags=["gps units"])
async def vehicle_report(
    vehicle_id: Id, report: Annotated[Report, Body()], runtime: RuntimeDep, response: Response
) -> ReportAnswer:
    """A GPS unit's report: E, F, G, H, fault cleared, position or device fault.

    A retry with the same `report_id` and the same body changes nothing and gets the first
    answer again (`Idempotent-Replay: true`); the same `report_id` with another body (another
    type, stamp, order, position) is 409, with the first report under `first`. Reports may come
    late and out of order; the unit's clock (`occurred_at`) orders them on the timeline.
    """
    return answered(await record_report(runtime, vehicle_id, report), response)
