"""What a GPS unit says about the vehicle itself, with or without an order on board."""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract, Envelope, Identifier, Position, Text
from contracts.topics import VEHICLES


class VehicleEvent(Envelope):
    vehicle_id: Identifier
    work_order_id: UUID | None = None
    topic: ClassVar[str] = VEHICLES.name

    @property
    def partition_key(self) -> str:
        return self.vehicle_id


class PositionReportedPayload(Contract):
    report_id: Identifier
    position: Position


class VehiclePositionReported(VehicleEvent):
    event_type: Literal["VehiclePositionReported"] = "VehiclePositionReported"
    schema_version: Literal[1] = 1
    payload: PositionReportedPayload


class DeviceFaultReportedPayload(Contract):
    report_id: Identifier
    description: Text | None = None
    position: Position | None = None


class VehicleDeviceFaultReported(VehicleEvent):
    """Rule 7: the crew found its GPS unit faulty (reported from the unit or on its behalf)."""

    event_type: Literal["VehicleDeviceFaultReported"] = "VehicleDeviceFaultReported"
    schema_version: Literal[1] = 1
    payload: DeviceFaultReportedPayload


class DeviceRepairedPayload(Contract):
    report_id: Identifier
    description: Text | None = None
    position: Position | None = None


class VehicleDeviceRepaired(VehicleEvent):
    """Rule 7: the unit works again; the fault reported before it is over."""

    event_type: Literal["VehicleDeviceRepaired"] = "VehicleDeviceRepaired"
    schema_version: Literal[1] = 1
    payload: DeviceRepairedPayload


class AvailabilityPayload(Contract):
    status: Literal["unavailable", "standby"]
    reason: Text | None = None
    expected_return_at: AwareDatetime | None = None
    requested_by: Identifier = Field(description="'gps-unit:<vehicle>' or a dispatcher's id.")


class VehicleAvailabilityChanged(VehicleEvent):
    """Rule 6: the crew cannot set off for a while (a meal, say), or is back on standby."""

    event_type: Literal["VehicleAvailabilityChanged"] = "VehicleAvailabilityChanged"
    schema_version: Literal[1] = 1
    payload: AvailabilityPayload
