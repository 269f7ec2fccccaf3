"""Request and answer bodies of the dispatch API (repair centers' and crews' words).

Reference data bodies (``RepairCenter``, ``Crew``, ``Leader``, ``Vehicle``) are the contracts' own.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from contracts import Contract, Position
from contracts.envelope import Identifier, Text


class ReceiptRequest(Contract):
    received_at: AwareDatetime
    repair_center_id: Identifier


class DispatchRequest(Contract):
    dispatched_at: AwareDatetime
    crew_id: Identifier
    vehicle_id: Identifier
    dispatcher_id: Identifier


class _Report(Contract):
    report_id: Identifier = Field(description="Unique per unit; a retry repeats it.")
    occurred_at: AwareDatetime = Field(description="By the unit's own clock.")
    position: Position | None = None


class OrderReport(_Report):
    """A step of the order the unit carries: E, F, G, H or fault cleared."""

    type: Literal["order_received", "order_accepted", "departed", "arrived", "fault_cleared"]
    work_order_id: UUID


class PositionReport(_Report):
    type: Literal["position"]
    work_order_id: UUID | None = None
    position: Position


class DeviceFaultReport(_Report):
    type: Literal["device_fault"]
    work_order_id: UUID | None = None
    description: Text | None = None


Report = Annotated[OrderReport | PositionReport | DeviceFaultReport, Field(discriminator="type")]


class ReportAnswer(BaseModel):
    vehicle_id: str
    report_id: str
    type: str
    work_order_id: UUID | None
    event_id: UUID
    event_type: str
    occurred_at: datetime
    recorded_at: datetime


class OrderView(Contract):
    """What dispatch knows of an order, for the repair center's console."""

    work_order_id: UUID
    status: Literal["opened", "issued", "received", "dispatched"]
    repair_center_id: str | None
    crew_id: str | None
    vehicle_id: str | None
    issued_at: datetime | None
    received_at: datetime | None
    dispatched_at: datetime | None
    crew_reports: list[str]
