"""Vehicles and their GPS units: reports, availability, the queue, the vehicle as it stands."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response

from domain.access import Ability, Principal, require_vehicle
from domain.board import BoardEntry
from domain.fleet import vehicle_state
from domain.policy import Point
from services.common.answers import answered
from services.common.auth import Allow
from services.common.edge import EdgeId
from services.common.http import RuntimeDep
from services.dispatch import availability, board, fleet, scopes
from services.dispatch.api_models import (
    AvailabilityAnswer,
    AvailabilityRequest,
    PositionReport,
    QueuedOrder,
    RecallNotice,
    Report,
    ReportAnswer,
    TimedPosition,
    VehicleOrders,
    VehicleView,
)
from services.dispatch.positions import record_position
from services.dispatch.reports import record_report

router = APIRouter(prefix="/v1/vehicles", tags=["vehicles"])
Id = Annotated[EdgeId, Path(description="The vehicle's id.")]
Unit = Annotated[Principal, Depends(Allow(Ability.REPORT_FROM_UNIT))]
"""A vehicle's own GPS unit: its device token names the vehicle."""
Dispatcher = Annotated[Principal, Depends(Allow(Ability.MANAGE_VEHICLES))]
Reader = Annotated[Principal, Depends(Allow(Ability.READ_DISPATCH))]


@router.post("/{vehicle_id}/reports", status_code=201, tags=["gps units"])
async def vehicle_report(
    vehicle_id: Id,
    report: Annotated[Report, Body()],
    runtime: RuntimeDep,
    response: Response,
    caller: Unit,
) -> ReportAnswer:
    """A GPS unit's report: E, F, G, H, fault cleared (with the repair record), position,
    device fault or repaired, or a request to recall an order that is not this crew's business.

    A retry with the same `report_id` and the same body changes nothing and gets the first
    answer again (`Idempotent-Replay: true`); the same `report_id` with another body (another
    type, stamp, order, position) is 409, with the first report under `first`. Reports may come
    late and out of order; the unit's clock (`occurred_at`) orders them on the timeline, but
    one stamped further ahead of our clock than `FUTURE_STAMP_TOLERANCE_S` is 422.

    Only the vehicle's own unit may post (its device token names the vehicle: 403 otherwise),
    and only about orders dispatched to that vehicle (409 otherwise).
    """
    require_vehicle(caller, vehicle_id, "post reports")
    if isinstance(report, PositionReport):  # the commonest request: one statement (issue 9)
        return answered(await record_position(runtime, vehicle_id, report), response)
    return answered(await record_report(runtime, vehicle_id, report), response)


@router.post("/{vehicle_id}/availability", status_code=201)
async def change_availability(
    vehicle_id: Id,
    request: AvailabilityRequest,
    runtime: RuntimeDep,
    response: Response,
    caller: Dispatcher,
) -> AvailabilityAnswer:
    """Rule 6: the crew cannot set off for a while (`unavailable`, with the reason), or is back
    (`standby`). Refused with 409 and the reason when no other vehicle of the same repair
    center, department and trade would be left on standby. The same post again is a replay.
    Only the dispatcher of the vehicle's repair center may: 403."""
    async with runtime.pool.acquire() as conn:
        await scopes.check_vehicle(conn, caller, vehicle_id, "change the availability")
    return answered(await availability.change(runtime, vehicle_id, request), response)


def view_of(record: fleet.VehicleRecord, queue: list[BoardEntry]) -> VehicleView:
    """A vehicle as its defined record and its queue on the order board say it is now."""
    stages = [e.vehicle_stage for e in queue if e.vehicle_stage is not None]
    position = (
        None
        if record.position is None or record.position_at is None
        else TimedPosition(lat=record.position.lat, lon=record.position.lon, at=record.position_at)
    )
    return VehicleView(
        vehicle_id=record.vehicle_id,
        crew_id=record.crew_id,
        plate=record.plate,
        repair_center_id=record.group.repair_center_id,
        department=record.group.department,
        trade=record.group.trade,
        state=vehicle_state(record.unavailable is not None, stages),
        unavailable=record.unavailable,
        device_fault=record.device_fault,
        position=position,
        queue=[e.work_order_id for e in queue],
    )


@router.get("/{vehicle_id}")
async def get_vehicle(vehicle_id: Id, runtime: RuntimeDep, caller: Reader) -> VehicleView:
    """The vehicle as defined (crew, plate) and as its events say it is now: `standby`,
    `assigned`, `en_route`, `on_site` or `unavailable`; its unit's fault; its last position;
    its queue."""
    async with runtime.pool.acquire() as conn:
        await scopes.check_vehicle(conn, caller, vehicle_id, "read the vehicle")
        record = await fleet.vehicle(conn, vehicle_id)
        queue = await board.queue(conn, vehicle_id)
    return view_of(record, queue)


@router.get("/{vehicle_id}/orders")
async def vehicle_orders(vehicle_id: Id, runtime: RuntimeDep, caller: Reader) -> VehicleOrders:
    """The orders on the vehicle's queue (a unit holds several), and the latest recalls of
    orders taken off it, so that a unit that was offline catches up."""
    async with runtime.pool.acquire() as conn:
        await scopes.check_vehicle(conn, caller, vehicle_id, "read the orders")
        await fleet.vehicle(conn, vehicle_id)  # 404 for a vehicle we do not know
        queue = await board.queue(conn, vehicle_id)
        recalls = await board.recalls(conn, vehicle_id)
    return VehicleOrders(
        vehicle_id=vehicle_id,
        items=[
            QueuedOrder(
                work_order_id=e.work_order_id,
                vehicle_stage=e.vehicle_stage,
                dispatched_at=e.points.get(Point.D),
                points={p.value: t for p, t in e.points.items()},
                address=e.address,
                location=e.location,
                fault_category=e.fault_category,
                fault_description=e.fault_description,
            )
            for e in queue
        ],
        recalls=[
            RecallNotice(
                work_order_id=r.work_order_id,
                event_id=r.event_id,
                recalled_at=r.occurred_at,
                reason=r.payload.reason,
                requested_by=r.payload.requested_by,
            )
            for r in recalls
        ],
    )
