"""Reference data the repair centers keep: repair centers, crews, vehicles, routing rules.

Every PUT answers 201 for a new id, 200 for a changed definition (a new event) and 200 for
exactly the current one (nothing recorded); ``…/history`` lists every definition an id had.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel

from contracts import Contract, Crew, RepairCenter, Vehicle
from contracts.access import Role
from contracts.reference import RoutingRuleDefinedPayload
from domain.access import Ability, Principal, require_center
from domain.errors import NotFound
from services.common.auth import Allow, allow
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.edge import EdgeId
from services.common.http import RuntimeDep
from services.dispatch import reference_data
from services.dispatch.reference_data import Change, Definition, RoutingRuleBody

router = APIRouter(prefix="/v1", tags=["reference data"])
Id = Annotated[EdgeId, Path()]
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "A new id, defined for the first time (the body as defined)."}
}
DEFINE = [allow(Ability.DEFINE_REFERENCE)]
"""Reference data is the admins' to define."""
READ = [allow(Ability.READ_ALL)]
Reader = Annotated[Principal, Depends(Allow(Ability.READ_ALL, Ability.ACT_ON_ORDERS))]
"""Auditors and admins read all of it; a dispatcher its own repair center and crews."""


class History(BaseModel):
    """Every definition of one id, oldest first."""

    items: list[Definition]


class RoutingRules(BaseModel):
    items: list[RoutingRuleDefinedPayload]


async def _put(runtime: RuntimeDep, key: str, body: Contract, response: Response) -> None:
    prefix = runtime.settings.topic_prefix

    async def define(conn: Connection) -> Change:
        return await reference_data.put(conn, key, body, recorded_at=utc_now(), topic_prefix=prefix)

    change = await in_transaction(runtime, define)
    response.status_code = 201 if change is Change.CREATED else 200


async def _history(runtime: RuntimeDep, model: type[Contract], key: str) -> History:
    async with runtime.pool.acquire() as conn:
        return History(items=await reference_data.history(conn, model, key))


@router.put("/repair-centers/{repair_center_id}", dependencies=DEFINE, responses=CREATED)
async def put_repair_center(
    repair_center_id: Id, body: RepairCenter, runtime: RuntimeDep, response: Response
) -> RepairCenter:
    """Create (201) or replace (200) a repair center."""
    await _put(runtime, repair_center_id, body, response)
    return body


@router.get("/repair-centers/{repair_center_id}")
async def get_repair_center(
    repair_center_id: Id, runtime: RuntimeDep, caller: Reader
) -> RepairCenter:
    require_center(caller, repair_center_id, "read the repair center")
    async with runtime.pool.acquire() as conn:
        return await reference_data.get(conn, RepairCenter, repair_center_id)


@router.get("/repair-centers/{repair_center_id}/history")
async def repair_center_history(
    repair_center_id: Id, runtime: RuntimeDep, caller: Reader
) -> History:
    """Every definition the repair center had, oldest first (404 if never defined)."""
    require_center(caller, repair_center_id, "read the history")
    return await _history(runtime, RepairCenter, repair_center_id)


@router.put("/crews/{crew_id}", dependencies=DEFINE, responses=CREATED)
async def put_crew(crew_id: Id, body: Crew, runtime: RuntimeDep, response: Response) -> Crew:
    """Create (201) or replace (200) a crew; its repair center must exist."""
    await _put(runtime, crew_id, body, response)
    return body


@router.get("/crews/{crew_id}")
async def get_crew(crew_id: Id, runtime: RuntimeDep, caller: Reader) -> Crew:
    async with runtime.pool.acquire() as conn:
        crew = await reference_data.get(conn, Crew, crew_id)
    require_center(caller, crew.repair_center_id, "read the crew")
    return crew


@router.get("/crews/{crew_id}/history")
async def crew_history(crew_id: Id, runtime: RuntimeDep, caller: Reader) -> History:
    """Every definition the crew had (its leaders and phones at any time), oldest first."""
    if caller.role is Role.DISPATCHER:
        async with runtime.pool.acquire() as conn:
            try:
                crew = await reference_data.get(conn, Crew, crew_id)
            except NotFound:
                crew = None  # the history says it was never defined
        require_center(caller, crew.repair_center_id if crew else None, "read the crew's history")
    return await _history(runtime, Crew, crew_id)


@router.put("/vehicles/{vehicle_id}", dependencies=DEFINE, responses=CREATED)
async def put_vehicle(
    vehicle_id: Id, body: Vehicle, runtime: RuntimeDep, response: Response
) -> Vehicle:
    """Create (201) or replace (200) a vehicle; its crew must exist."""
    await _put(runtime, vehicle_id, body, response)
    return body


# GET /v1/vehicles/{vehicle_id} is routes_vehicles': the vehicle as defined and as it stands.


@router.get("/vehicles/{vehicle_id}/history", dependencies=READ)
async def vehicle_history(vehicle_id: Id, runtime: RuntimeDep) -> History:
    """Every definition the vehicle had, oldest first (404 if never defined)."""
    return await _history(runtime, Vehicle, vehicle_id)


def _rule(rule_id: str, body: RoutingRuleBody) -> RoutingRuleDefinedPayload:
    return RoutingRuleDefinedPayload.model_validate({**body.model_dump(), "rule_id": rule_id})


@router.put("/routing-rules/{rule_id}", dependencies=DEFINE, responses=CREATED)
async def put_routing_rule(
    rule_id: Id, body: RoutingRuleBody, runtime: RuntimeDep, response: Response
) -> RoutingRuleDefinedPayload:
    """Create (201) or replace (200) a routing rule; its repair center must exist.

    Intake routes an order the duty chief issues without naming a repair center by the rules it
    has heard of (``RoutingRuleDefined``); a retired rule routes nothing.
    """
    await _put(runtime, rule_id, body, response)
    return _rule(rule_id, body)


@router.get("/routing-rules", dependencies=READ)
async def routing_rules(runtime: RuntimeDep) -> RoutingRules:
    """Every routing rule as currently defined (retired ones too), by rule id."""
    async with runtime.pool.acquire() as conn:
        rules = await reference_data.get_all(conn, RoutingRuleBody)
    return RoutingRules(items=[_rule(rule_id, body) for rule_id, body in rules])


@router.get("/routing-rules/{rule_id}", dependencies=READ)
async def get_routing_rule(rule_id: Id, runtime: RuntimeDep) -> RoutingRuleDefinedPayload:
    async with runtime.pool.acquire() as conn:
        return _rule(rule_id, await reference_data.get(conn, RoutingRuleBody, rule_id))


@router.get("/routing-rules/{rule_id}/history", dependencies=READ)
async def routing_rule_history(rule_id: Id, runtime: RuntimeDep) -> History:
    """Every definition the rule had, oldest first (404 if never defined)."""
    return await _history(runtime, RoutingRuleBody, rule_id)
