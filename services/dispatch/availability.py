"""Rule 6: a vehicle's crew cannot set off for a while, or is back on standby.

Staff of the same trade may not all be unavailable at once: going unavailable is refused when no
other vehicle of the group (same repair center, department and trade) would be left on standby.
Decided under a per-group lock, so that two units asking at once cannot both leave.
"""

from pydantic import TypeAdapter

from contracts import AvailabilityPayload, VehicleAvailabilityChanged
from domain.errors import ImpossibleStep
from domain.fleet import VehicleState, unavailability_refusal
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.event_store import append
from services.common.idempotency import Answered, Scope, once
from services.common.runtime import Runtime
from services.dispatch import fleet
from services.dispatch.api_models import AvailabilityAnswer, AvailabilityRequest
from services.dispatch.reports import vehicle_story

AVAILABILITY: Scope[AvailabilityRequest, AvailabilityAnswer] = Scope(
    name="vehicle-availability",
    noun="availability change",
    request=TypeAdapter(AvailabilityRequest),
    answer=TypeAdapter(AvailabilityAnswer),
)
"""Keyed by the status and its stamp, per vehicle: a retry repeats both."""


async def change(
    runtime: Runtime, vehicle_id: str, request: AvailabilityRequest
) -> Answered[AvailabilityAnswer]:
    async def work(conn: Connection) -> Answered[AvailabilityAnswer]:
        async def first_post() -> AvailabilityAnswer:
            record = await fleet.vehicle(conn, vehicle_id)  # 404 for a vehicle we do not know
            await fleet.lock_group(conn, record.group)
            if request.status == "unavailable":
                members = await fleet.group_members(conn, record.group)
                others = [
                    v.vehicle_id
                    for v in await fleet.with_states(conn, members)
                    if v.vehicle_id != vehicle_id and v.state is VehicleState.STANDBY
                ]
                refusal = unavailability_refusal(record.group, others)
                if refusal is not None:
                    raise ImpossibleStep(f"vehicle {vehicle_id!r} cannot go unavailable: {refusal}")
            event = VehicleAvailabilityChanged(
                **vehicle_story(vehicle_id),
                vehicle_id=vehicle_id,
                occurred_at=request.occurred_at,
                recorded_at=utc_now(),
                source=request.requested_by or f"gps-unit:{vehicle_id}",
                payload=AvailabilityPayload(
                    status=request.status,
                    reason=request.reason,
                    expected_return_at=request.expected_return_at,
                    requested_by=request.requested_by or f"gps-unit:{vehicle_id}",
                ),
            )
            stream = f"vehicle-{vehicle_id}"
            version = await fleet.next_version(conn, vehicle_id)
            await append(conn, stream, version - 1, [event], runtime.settings.topic_prefix)
            await fleet.note_availability(conn, event)
            return AvailabilityAnswer(
                vehicle_id=vehicle_id,
                status=request.status,
                event_id=event.event_id,
                occurred_at=event.occurred_at,
                recorded_at=event.recorded_at,
            )

        key = f"{request.status}@{request.occurred_at.isoformat()}"
        return await once(
            conn, AVAILABILITY.within("vehicle", vehicle_id), key, request, first_post
        )

    return await in_transaction(runtime, work)
