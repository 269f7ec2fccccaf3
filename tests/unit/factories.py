"""Real contract events for the timeline tests, built with as little ceremony as the tests need.

Times are minutes after ``T0``; an event is recorded ``DELAY`` after it occurred unless a test
says otherwise.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import UUID

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    CrewReportPayload,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import (
    DispatchBlocked,
    DispatchBlockedPayload,
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderRecalled,
    WorkOrderRecalledPayload,
    WorkOrderReceived,
    WorkOrderReceivedPayload,
)
from contracts.intake import (
    CallEnded,
    CallEndedPayload,
    Caller,
    Fault,
    WorkOrderClosed,
    WorkOrderClosedPayload,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
)
from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import Point

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
WO = UUID("00000000-0000-4000-8000-00000000a11d")
CORRELATION = UUID("00000000-0000-4000-8000-0000000c0de0")
REPAIR_CENTER = "rc-chaoyang"
DELAY = timedelta(seconds=5)

_ids = count(1)


CALL = CallEndedPayload(
    call_id="call-1",
    caller=Caller(name="Wang Li", phone="+86 10 5555 0101"),
    address="12 Jianguo Road",
    fault=Fault(category="outage", description="no power in the building"),
    agent_id="agent-7",
)
"""The call every test order starts from."""


def minutes(m: float) -> datetime:
    """``m`` minutes after ``T0``."""
    return T0 + timedelta(minutes=m)


def new_id() -> UUID:
    """A fresh, readable event id (deterministic across runs, unlike uuid4)."""
    return UUID(int=next(_ids))


def event(
    point: Point,
    occurred: datetime,
    *,
    recorded: datetime | None = None,
    event_id: UUID | None = None,
    report_id: str | None = None,
    co_located: bool = False,
    work_order_id: UUID = WO,
) -> WorkOrderEventT:
    """The event that marks ``point``, as its source would send it."""
    common = {
        "event_id": event_id or new_id(),
        "occurred_at": occurred,
        "recorded_at": recorded if recorded is not None else occurred + DELAY,
        "correlation_id": CORRELATION,
        "work_order_id": work_order_id,
    }
    if point is Point.A:
        return CallEnded(
            source="phone-system",
            payload=CALL,
            **common,
        )
    if point is Point.B:
        return WorkOrderIssued(
            source="phone-system",
            payload=WorkOrderIssuedPayload(duty_chief_id="chief-1", repair_center_id=REPAIR_CENTER),
            **common,
        )
    if point is Point.C:
        return WorkOrderReceived(
            source=f"repair-center:{REPAIR_CENTER}",
            payload=WorkOrderReceivedPayload(repair_center_id=REPAIR_CENTER),
            **common,
        )
    if point is Point.D:
        return WorkOrderDispatched(
            source=f"repair-center:{REPAIR_CENTER}",
            payload=WorkOrderDispatchedPayload(
                repair_center_id=REPAIR_CENTER,
                crew_id="crew-3",
                vehicle_id="veh-12",
                dispatcher_id="disp-2",
                crew_co_located=co_located,
            ),
            **common,
        )
    crew = {"source": "gps-unit:veh-12", "payload": _crew_payload(report_id), **common}
    if point is Point.E:
        return OrderReachedCrew(**crew)
    if point is Point.F:
        return OrderAcceptedByCrew(**crew)
    if point is Point.G:
        return CrewDeparted(**crew)
    return CrewArrived(**crew)


def fault_cleared(
    occurred: datetime, *, recorded: datetime | None = None, event_id: UUID | None = None
) -> FaultCleared:
    return FaultCleared(
        event_id=event_id or new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        work_order_id=WO,
        source="gps-unit:veh-12",
        payload=_crew_payload(None),
    )


def order(at_minutes: Mapping[Point, float], *, co_located: bool = False) -> list[WorkOrderEventT]:
    """One event per point, at the given minutes after ``T0``."""
    return [
        event(point, minutes(m), co_located=co_located) for point, m in sorted(at_minutes.items())
    ]


def incident(
    link: Link,
    started: datetime,
    ended: datetime | None = None,
    *,
    incident_id: str = "inc-1",
    repair_center_id: str | None = None,
) -> NetworkIncidentPayload:
    return NetworkIncidentPayload(
        incident_id=incident_id,
        link=link,
        started_at=started,
        ended_at=ended,
        repair_center_id=repair_center_id,
    )


# -- Attempts (rule 4): dispatches, recalls and the reports that answer one dispatch ------------

CrewReport = OrderReachedCrew | OrderAcceptedByCrew | CrewDeparted | CrewArrived | FaultCleared


def dispatched(
    occurred: datetime,
    *,
    vehicle: str = "veh-12",
    crew: str = "crew-3",
    recorded: datetime | None = None,
    event_id: UUID | None = None,
    co_located: bool = False,
) -> WorkOrderDispatched:
    """Point D: one attempt, to ``vehicle`` and ``crew``."""
    return WorkOrderDispatched(
        event_id=event_id or new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        work_order_id=WO,
        source=f"repair-center:{REPAIR_CENTER}",
        payload=WorkOrderDispatchedPayload(
            repair_center_id=REPAIR_CENTER,
            crew_id=crew,
            vehicle_id=vehicle,
            dispatcher_id="disp-2",
            crew_co_located=co_located,
        ),
    )


def recalled(
    attempt: WorkOrderDispatched,
    occurred: datetime,
    *,
    recorded: datetime | None = None,
    event_id: UUID | None = None,
    reason: str = "not our business: a 10 kV fault",
    requested_by: str = "disp-2",
) -> WorkOrderRecalled:
    """Rule 4: ``attempt`` withdrawn from its vehicle, caused by it as the write side does."""
    return WorkOrderRecalled(
        event_id=event_id or new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        causation_id=attempt.event_id,
        work_order_id=WO,
        source=f"repair-center:{REPAIR_CENTER}",
        payload=WorkOrderRecalledPayload(
            dispatch_event_id=attempt.event_id,
            repair_center_id=attempt.payload.repair_center_id,
            crew_id=attempt.payload.crew_id,
            vehicle_id=attempt.payload.vehicle_id,
            reason=reason,
            requested_by=requested_by,
        ),
    )


_REPORTS: dict[Point | None, type[CrewReport]] = {
    Point.E: OrderReachedCrew,
    Point.F: OrderAcceptedByCrew,
    Point.G: CrewDeparted,
    Point.H: CrewArrived,
    None: FaultCleared,
}


def report(
    point: Point | None,
    attempt: WorkOrderDispatched,
    occurred: datetime,
    *,
    recorded: datetime | None = None,
    event_id: UUID | None = None,
    report_id: str | None = None,
) -> CrewReport:
    """E, F, G, H (``None``: the fault cleared) from ``attempt``'s unit, caused by ``attempt``."""
    vehicle = attempt.payload.vehicle_id
    return _REPORTS[point](
        event_id=event_id or new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        causation_id=attempt.event_id,
        work_order_id=WO,
        source=f"gps-unit:{vehicle}",
        payload=CrewReportPayload(
            vehicle_id=vehicle,
            crew_id=attempt.payload.crew_id,
            report_id=report_id or f"rep-{next(_ids)}",
        ),
    )


def blocked(occurred: datetime, *, recorded: datetime | None = None) -> DispatchBlocked:
    """Rule 5: no suitable vehicle stands by."""
    return DispatchBlocked(
        event_id=new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        work_order_id=WO,
        source=f"repair-center:{REPAIR_CENTER}",
        payload=DispatchBlockedPayload(
            repair_center_id=REPAIR_CENTER,
            department=None,
            trade="low-voltage",
            reason="every low-voltage vehicle is out",
        ),
    )


def closed(occurred: datetime, *, recorded: datetime | None = None) -> WorkOrderClosed:
    """The 95598 callback: the order closed."""
    return WorkOrderClosed(
        event_id=new_id(),
        occurred_at=occurred,
        recorded_at=recorded if recorded is not None else occurred + DELAY,
        correlation_id=CORRELATION,
        work_order_id=WO,
        source="phone-system",
        payload=WorkOrderClosedPayload(satisfied=True, agent_id="agent-7"),
    )


def ids(events: Iterable[WorkOrderEventT]) -> list[UUID]:
    return [e.event_id for e in events]


def _crew_payload(report_id: str | None) -> CrewReportPayload:
    return CrewReportPayload(
        vehicle_id="veh-12", crew_id="crew-3", report_id=report_id or f"rep-{next(_ids)}"
    )
