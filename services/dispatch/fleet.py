"""The vehicles as dispatch holds them: reference data, what each unit said of itself, its queue.

Reads for the vehicle board, the candidates and rule 6; ``note_*`` keep ``vehicle_status`` in step
with the vehicle events, in the transaction that records them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import (
    Position,
    VehicleAvailabilityChanged,
    VehicleDeviceFaultReported,
    VehicleDeviceRepaired,
)
from domain.errors import NotFound
from domain.fleet import Fleet, Group, VehicleState, vehicle_state
from services.common.db import Connection
from services.dispatch import board


@dataclass(frozen=True)
class VehicleRecord:
    """One vehicle with its crew's facts and what its unit last said."""

    vehicle_id: str
    crew_id: str
    plate: str | None
    group: Group
    unavailable: dict[str, Any] | None
    device_fault: dict[str, Any] | None
    position: Position | None
    position_at: datetime | None

    def with_state(self, stages: list[VehicleState]) -> Fleet:
        return Fleet(
            vehicle_id=self.vehicle_id,
            crew_id=self.crew_id,
            department=self.group.department or "",
            trade=self.group.trade or "",
            state=vehicle_state(self.unavailable is not None, stages),
            device_faulty=self.device_fault is not None,
            position=self.position,
        )


_SELECT = """
    SELECT v.vehicle_id, v.crew_id, v.body->>'plate' AS plate, c.repair_center_id,
           c.body->>'department' AS department, c.body->>'trade' AS trade,
           s.unavailable, s.device_fault, s.position, s.position_at
    FROM vehicles v JOIN crews c USING (crew_id)
    LEFT JOIN vehicle_status s USING (vehicle_id)
"""


def _record(row: Any) -> VehicleRecord:
    return VehicleRecord(
        vehicle_id=row["vehicle_id"],
        crew_id=row["crew_id"],
        plate=row["plate"],
        group=Group(row["repair_center_id"], row["department"], row["trade"]),
        unavailable=row["unavailable"],
        device_fault=row["device_fault"],
        position=None if row["position"] is None else Position.model_validate(row["position"]),
        position_at=row["position_at"],
    )


async def vehicle(conn: Connection, vehicle_id: str) -> VehicleRecord:
    row = await conn.fetchrow(f"{_SELECT} WHERE v.vehicle_id = $1", vehicle_id)
    if row is None:
        raise NotFound(f"no vehicle {vehicle_id!r}")
    return _record(row)


async def of_repair_center(conn: Connection, repair_center_id: str) -> list[VehicleRecord]:
    rows = await conn.fetch(
        f"{_SELECT} WHERE c.repair_center_id = $1 ORDER BY v.vehicle_id", repair_center_id
    )
    return [_record(row) for row in rows]


async def with_states(
    conn: Connection, records: list[VehicleRecord], *, leaving_out: UUID | None = None
) -> list[Fleet]:
    """Each vehicle with its state: unavailable, else the busiest stage of its queue (leaving out
    one order, to see a vehicle as it stood before that order was sent to it)."""
    stages = await board.stages(conn, [r.vehicle_id for r in records], leaving_out)
    return [r.with_state(stages[r.vehicle_id]) for r in records]


async def group_members(conn: Connection, group: Group) -> list[VehicleRecord]:
    """The vehicles whose crews share the repair center, department and trade (rule 6)."""
    return [
        r
        for r in await of_repair_center(conn, group.repair_center_id)
        if (r.group.department, r.group.trade) == (group.department, group.trade)
    ]


async def lock_group(conn: Connection, group: Group) -> None:
    """Serialise rule 6 per group: two units of one trade asking at once are decided in turn."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"rule6:{group.key}")


async def next_version(conn: Connection, vehicle_id: str) -> int:
    """The next version of the vehicle's stream, taken under its status row's lock (held to the
    commit): writers about one vehicle go in turn instead of racing on ``(stream_id, version)``.
    The stream's own maximum counts too, for a writer that keeps no counter (a definition)."""
    version: int = await conn.fetchval(
        """
        INSERT INTO vehicle_status AS s (vehicle_id, stream_version)
        VALUES ($1, (SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $2) + 1)
        ON CONFLICT (vehicle_id) DO UPDATE
            SET stream_version = greatest(s.stream_version + 1, EXCLUDED.stream_version)
        RETURNING stream_version
        """,
        vehicle_id,
        f"vehicle-{vehicle_id}",
    )
    return version


async def _upsert(conn: Connection, vehicle_id: str, column: str, value: object) -> None:
    # ``column`` is one of ours, never input.
    await conn.execute(
        f"""
        INSERT INTO vehicle_status (vehicle_id, {column}) VALUES ($1, $2)
        ON CONFLICT (vehicle_id) DO UPDATE SET {column} = EXCLUDED.{column}
        """,
        vehicle_id,
        value,
    )


async def note_availability(conn: Connection, event: VehicleAvailabilityChanged) -> None:
    payload = event.payload
    unavailable = (
        None
        if payload.status == "standby"
        else {
            "since": event.occurred_at.isoformat(),
            "reason": payload.reason,
            "expected_return_at": (
                payload.expected_return_at.isoformat() if payload.expected_return_at else None
            ),
            "requested_by": payload.requested_by,
            "event_id": str(event.event_id),
        }
    )
    await _upsert(conn, event.vehicle_id, "unavailable", unavailable)


async def note_device(
    conn: Connection, event: VehicleDeviceFaultReported | VehicleDeviceRepaired
) -> None:
    fault = (
        {
            "since": event.occurred_at.isoformat(),
            "description": event.payload.description,
            "report_id": event.payload.report_id,
            "event_id": str(event.event_id),
        }
        if isinstance(event, VehicleDeviceFaultReported)
        else None
    )
    await _upsert(conn, event.vehicle_id, "device_fault", fault)


async def note_position(
    conn: Connection, vehicle_id: str, position: Position, at: datetime
) -> None:
    """The last position by the unit's clock: a late ping never moves the vehicle back."""
    await conn.execute(
        """
        INSERT INTO vehicle_status (vehicle_id, position, position_at) VALUES ($1, $2, $3)
        ON CONFLICT (vehicle_id) DO UPDATE SET position = EXCLUDED.position,
            position_at = EXCLUDED.position_at
        WHERE vehicle_status.position_at IS NULL OR vehicle_status.position_at < EXCLUDED.position_at
        """,
        vehicle_id,
        position.model_dump(mode="json"),
        at,
    )
