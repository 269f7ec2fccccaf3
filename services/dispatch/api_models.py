"""Request and answer bodies of the dispatch API (repair centers' and crews' words).

Reference data bodies (``RepairCenter``, ``Crew``, ``Leader``, ``Vehicle``) are the contracts' own.
"""

from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from contracts import Contract, Link, Position, RepairRecord, WorkOrderIssuedPayload
from contracts.envelope import Identifier, Text
from domain.fleet import Candidate, VehicleState
from services.common.answers import Recorded
from services.common.edge import EdgeId


class ReceiptRequest(Contract):
    received_at: AwareDatetime
    repair_center_id: EdgeId


class DispatchRequest(Contract):
    dispatched_at: AwareDatetime
    crew_id: EdgeId
    vehicle_id: EdgeId
    dispatcher_id: EdgeId


class IncidentRequest(Contract):
    """A network incident as posted: the link, its repair center, when it started (and ended)."""

    incident_id: EdgeId
    link: Link
    repair_center_id: EdgeId = Field(description="The repair center whose link it is.")
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    description: Text | None = None
    reason: Text | None = Field(
        default=None,
        description="Required (and an admin token) when `started_at` lies further back than "
        "the back-dating window (`INCIDENT_BACKDATE_WINDOW_S`); kept on the event.",
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class _Report(Contract):
    report_id: EdgeId = Field(description="Unique per unit; a retry repeats it.")
    occurred_at: AwareDatetime = Field(description="By the unit's own clock.")
    position: Position | None = None


class OrderReport(_Report):
    """A step of the order the unit carries: E, F, G, H or fault cleared."""

    type: Literal["order_received", "order_accepted", "departed", "arrived", "fault_cleared"]
    work_order_id: UUID
    repair: RepairRecord | None = Field(
        default=None,
        description="With `fault_cleared` only: what the crew found and did (cause, action, "
        "material), written back by the repair staff themselves.",
    )

    @model_validator(mode="after")
    def _repair_only_when_cleared(self) -> Self:
        if self.repair is not None and self.type != "fault_cleared":
            raise ValueError("repair is reported with fault_cleared only")
        return self


class RecallRequest(_Report):
    """Rule 4: the order is not this crew's business; the unit asks for it to be recalled."""

    type: Literal["recall_requested"]
    work_order_id: UUID
    reason: Text


class PositionReport(_Report):
    type: Literal["position"]
    work_order_id: UUID | None = None
    position: Position


class DeviceFaultReport(_Report):
    """Rule 7: the crew found its GPS unit faulty."""

    type: Literal["device_fault"]
    work_order_id: UUID | None = None
    description: Text | None = None


class DeviceRepairedReport(_Report):
    """Rule 7: the unit works again."""

    type: Literal["device_repaired"]
    work_order_id: UUID | None = None
    description: Text | None = None


AnyReport = OrderReport | RecallRequest | PositionReport | DeviceFaultReport | DeviceRepairedReport
Report = Annotated[AnyReport, Field(discriminator="type")]


class ReportAnswer(BaseModel):
    vehicle_id: str
    report_id: str
    type: str
    work_order_id: UUID | None
    event_id: UUID
    event_type: str
    occurred_at: datetime
    recorded_at: datetime


class RecallBody(Contract):
    """Rule 4: take the order back from its vehicle (the receiving department said it is not
    its business, or the dispatcher chose another vehicle)."""

    recalled_at: AwareDatetime
    reason: Text
    requested_by: EdgeId = Field(description="The dispatcher's id (or whoever asked).")


class DispatchAnswer(Recorded):
    """The dispatch as recorded, with what the dispatcher should know about the vehicle."""

    warnings: list[str] = Field(
        default_factory=list,
        description="e.g. the vehicle's GPS unit is reported faulty, or it is not on standby.",
    )


class Attempt(Contract):
    """One dispatch of the order, and its recall if it was recalled (rule 4)."""

    dispatch_event_id: UUID
    crew_id: str
    vehicle_id: str
    dispatched_at: datetime
    recalled_at: datetime | None
    recall_reason: str | None
    recalled_by: str | None
    crew_reports: list[str]


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
    attempts: list[Attempt] = Field(description="Every dispatch, in the order recorded.")
    closed_at: datetime | None = Field(description="When the 95598 center called back.")


class CandidateView(Contract):
    rank: int
    vehicle_id: str
    crew_id: str
    department: str
    trade: str
    state: VehicleState
    device_faulty: bool
    position: Position | None
    distance_km: float | None
    reason: str


class CandidatesView(Contract):
    """The vehicles of the order's repair center, best first, each with why it ranks there."""

    work_order_id: UUID
    repair_center_id: str
    department: str | None
    trade: str | None
    fault_location: Position | None
    items: list[CandidateView]

    @classmethod
    def of(
        cls,
        work_order_id: UUID,
        issued: WorkOrderIssuedPayload,
        fault_at: Position | None,
        ranked: list[Candidate],
    ) -> "CandidatesView":
        return cls(
            work_order_id=work_order_id,
            repair_center_id=issued.repair_center_id,
            department=issued.department,
            trade=issued.trade,
            fault_location=fault_at,
            items=[
                CandidateView(
                    rank=c.rank,
                    vehicle_id=c.vehicle.vehicle_id,
                    crew_id=c.vehicle.crew_id,
                    department=c.vehicle.department,
                    trade=c.vehicle.trade,
                    state=c.vehicle.state,
                    device_faulty=c.vehicle.device_faulty,
                    position=c.vehicle.position,
                    distance_km=None if c.distance_km is None else round(c.distance_km, 3),
                    reason=c.reason,
                )
                for c in ranked
            ],
        )


class AvailabilityRequest(Contract):
    """Rule 6: the crew cannot set off for a while (a meal, say), or is back on standby."""

    status: Literal["unavailable", "standby"]
    reason: Text | None = None
    occurred_at: AwareDatetime = Field(description="When it was said, by the sender's clock.")
    expected_return_at: AwareDatetime | None = None
    requested_by: Identifier | None = Field(
        default=None, description="A dispatcher's id; absent: the vehicle's own unit."
    )

    @model_validator(mode="after")
    def _unavailable_says_why(self) -> Self:
        if self.status == "unavailable" and self.reason is None:
            raise ValueError("an unavailable vehicle says why (reason)")
        return self


class AvailabilityAnswer(BaseModel):
    vehicle_id: str
    status: Literal["unavailable", "standby"]
    event_id: UUID
    occurred_at: datetime
    recorded_at: datetime


class TimedPosition(Contract):
    lat: float
    lon: float
    at: datetime


class VehicleView(Contract):
    """A vehicle as the board shows it: its reference data and what its events say of it now.

    ``crew_id`` and ``plate`` are the reference data as defined; the rest is derived."""

    vehicle_id: str
    crew_id: str
    plate: str | None
    repair_center_id: str
    department: str | None
    trade: str | None
    state: VehicleState
    unavailable: dict[str, Any] | None = Field(
        description="Why, since when, expected back when; null on standby or busy."
    )
    device_fault: dict[str, Any] | None = Field(
        description="The unit reported faulty (rule 7) and not yet repaired: since, description."
    )
    position: TimedPosition | None
    queue: list[UUID] = Field(description="Its open orders, in the order they were sent to it.")


class QueuedOrder(Contract):
    work_order_id: UUID
    vehicle_stage: VehicleState | None
    dispatched_at: datetime | None
    points: dict[str, datetime]
    address: str | None
    location: Position | None
    fault_category: str | None
    fault_description: str | None


class RecallNotice(Contract):
    work_order_id: UUID
    event_id: UUID
    recalled_at: datetime
    reason: str
    requested_by: str


class VehicleOrders(Contract):
    """What a unit coming back online needs: the orders on it, and those taken off it."""

    vehicle_id: str
    items: list[QueuedOrder]
    recalls: list[RecallNotice]


class InboxOrder(Contract):
    work_order_id: UUID
    status: str
    points: dict[str, datetime]
    running_segment: str | None
    segment_started_at: datetime | None
    limit_s: int | None
    time_left_s: float | None = Field(description="Negative once the running segment is overdue.")
    department: str | None
    trade: str | None
    vehicle_id: str | None
    crew_id: str | None
    address: str | None
    fault_category: str | None


class Inbox(Contract):
    repair_center_id: str
    as_of: datetime
    items: list[InboxOrder]


class CapacityAlerts(Contract):
    items: list[dict[str, Any]]
