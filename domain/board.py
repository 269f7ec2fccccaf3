"""Where an order stands on the repair center's board: its status, its vehicle, the running segment.

A pure reading of ``OrderState`` for the dispatcher's inbox and the vehicles' queues. The points
it shows are those of the attempt under way (a recalled attempt's reports no longer count), each
set by the first report recorded for it, as the timeline sets them. How long is left in the
running segment is a hint for the dispatcher, not a finding: the timeline judges.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from contracts import (
    CrewArrived,
    CrewDeparted,
    OrderAcceptedByCrew,
    OrderReachedCrew,
    Position,
)
from domain.fleet import VehicleState, stage_on_vehicle
from domain.orders import OrderState
from domain.policy import Point, Policy, Segment


class OrderStatus(StrEnum):
    OPENED = "opened"
    """The call ended (A); the duty chief has not issued the order yet."""
    ISSUED = "issued"
    """Issued to a repair center (B), not yet taken in."""
    RECEIVED = "received"
    """Taken in (C), waiting for a crew and vehicle (again, after a recall)."""
    DISPATCHED = "dispatched"
    """On a vehicle's queue (D), until the fault is cleared."""


_REPORT_POINTS = (
    (OrderReachedCrew, Point.E),
    (OrderAcceptedByCrew, Point.F),
    (CrewDeparted, Point.G),
    (CrewArrived, Point.H),
)


@dataclass(frozen=True)
class Running:
    """The segment the order is in now, and how long it has left (negative: overdue)."""

    segment: Segment
    started_at: datetime
    limit_s: int
    left_s: float


@dataclass(frozen=True)
class BoardEntry:
    work_order_id: UUID
    status: OrderStatus
    is_open: bool
    """Still the repair center's business: not closed by the callback, fault not cleared."""
    repair_center_id: str | None
    department: str | None
    trade: str | None
    vehicle_id: str | None
    crew_id: str | None
    crew_co_located: bool | None
    vehicle_stage: VehicleState | None
    points: dict[Point, datetime]
    """The points so far: A–C of the order, D–H of the attempt under way."""
    address: str | None
    location: Position | None
    fault_category: str | None
    fault_description: str | None

    def running(self, policy: Policy, now: datetime) -> Running | None:
        """The first segment after the last point reached, while the order is open."""
        if not self.is_open or not self.points:
            return None
        last = max(self.points, key=lambda p: p.position)
        if last is Point.H:
            return None
        segment = list(Segment)[last.position]
        limit = policy.limit_for(segment, crew_co_located=self.crew_co_located)
        started = self.points[last]
        return Running(segment, started, limit, limit - (now - started).total_seconds())


def board_entry(state: OrderState) -> BoardEntry:
    """The order as the board shows it, from its events alone."""
    call, issued, received, attempt = state.call, state.issued, state.received, state.dispatched
    points: dict[Point, datetime] = {}
    for point, event in ((Point.A, call), (Point.B, issued), (Point.C, received)):
        if event is not None:
            points[point] = event.occurred_at
    if attempt is not None:
        points[Point.D] = attempt.occurred_at
        reports = sorted(state.reports_of(attempt), key=lambda r: r.recorded_at)
        for kind, point in _REPORT_POINTS:
            first = next((r for r in reports if isinstance(r, kind)), None)
            if first is not None:
                points[point] = first.occurred_at
    status = (
        OrderStatus.DISPATCHED
        if attempt
        else OrderStatus.RECEIVED
        if received
        else OrderStatus.ISSUED
        if issued
        else OrderStatus.OPENED
    )
    issued_payload = issued.payload if issued else None
    call_payload = call.payload if call else None
    return BoardEntry(
        work_order_id=state.work_order_id,
        status=status,
        is_open=not state.done,
        repair_center_id=issued_payload.repair_center_id if issued_payload else None,
        department=issued_payload.department if issued_payload else None,
        trade=issued_payload.trade if issued_payload else None,
        vehicle_id=attempt.payload.vehicle_id if attempt else None,
        crew_id=attempt.payload.crew_id if attempt else None,
        crew_co_located=attempt.payload.crew_co_located if attempt else None,
        vehicle_stage=stage_on_vehicle(state),
        points=points,
        address=call_payload.address if call_payload else None,
        location=call_payload.location if call_payload else None,
        fault_category=call_payload.fault.category if call_payload else None,
        fault_description=call_payload.fault.description if call_payload else None,
    )
