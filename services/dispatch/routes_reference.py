"""Reference data the repair centers keep: repair centers, crews and their vehicles."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from contracts import Contract, Crew, RepairCenter, Vehicle
from contracts.envelope import Identifier
from services.common.http import RuntimeDep
from services.dispatch import reference_data

router = APIRouter(prefix="/v1")
Id = Annotated[Identifier, Path()]


async def _put(runtime: RuntimeDep, key: str, body: Contract, response: Response) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        created = await reference_data.put(conn, key, body)
    response.status_code = 201 if created else 200


@router.put("/repair-centers/{repair_center_id}")
async def put_repair_center(
    repair_center_id: Id, body: RepairCenter, runtime: RuntimeDep, response: Response
) -> RepairCenter:
    """Create (201) or replace (200) a repair center."""
    await _put(runtime, repair_center_id, body, response)
    return body


@router.get("/repair-centers/{repair_center_id}")
async def get_repair_center(repair_center_id: Id, runtime: RuntimeDep) -> RepairCenter:
    async with runtime.pool.acquire() as conn:
        return await reference_data.get(conn, RepairCenter, repair_center_id)


@router.put("/crews/{crew_id}")
async def put_crew(crew_id: Id, body: Crew, runtime: RuntimeDep, response: Response) -> Crew:
    """Create (201) or replace (200) a crew; its repair center must exist."""
    await _put(runtime, crew_id, body, response)
    return body


@router.get("/crews/{crew_id}")
async def get_crew(crew_id: Id, runtime: RuntimeDep) -> Crew:
    async with runtime.pool.acquire() as conn:
        return await reference_data.get(conn, Crew, crew_id)


@router.put("/vehicles/{vehicle_id}")
async def put_vehicle(
    vehicle_id: Id, body: Vehicle, runtime: RuntimeDep, response: Response
) -> Vehicle:
    """Create (201) or replace (200) a vehicle; its crew must exist."""
    await _put(runtime, vehicle_id, body, response)
    return body


@router.get("/vehicles/{vehicle_id}")
async def get_vehicle(vehicle_id: Id, runtime: RuntimeDep) -> Vehicle:
    async with runtime.pool.acquire() as conn:
        return await reference_data.get(conn, Vehicle, vehicle_id)
