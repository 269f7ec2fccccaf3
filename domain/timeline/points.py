"""From a work order's events to its time points.

Only what we knew by the as-of instant counts, and an event posted twice counts once. Each point
is set by the **first report we recorded** for it (ADR 0005): a later report for the same point
never moves it, whatever its stamp, so that the party answering for a segment cannot shorten it
by posting again. The point's time is that report's stamp (``occurred_at``, the source's clock).
A unit's retry (its report id again, with the same stamp) is the same report; anything else is
another report, kept beside the standing one for the anomalies and the disputes.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    CrewReportPayload,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import WorkOrderDispatched, WorkOrderReceived
from contracts.envelope import WorkOrderEvent
from contracts.intake import CallEnded, WorkOrderIssued
from contracts.registry import WorkOrderEventT
from domain.policy import Point
from domain.timeline._format import at

POINT_OF: dict[type[WorkOrderEvent], Point] = {
    CallEnded: Point.A,
    WorkOrderIssued: Point.B,
    WorkOrderReceived: Point.C,
    WorkOrderDispatched: Point.D,
    OrderReachedCrew: Point.E,
    OrderAcceptedByCrew: Point.F,
    CrewDeparted: Point.G,
    CrewArrived: Point.H,
}
"""The point each event type marks; ``FaultCleared`` marks none (it comes after H)."""


def point_of(event: WorkOrderEvent) -> Point | None:
    """The point ``event`` marks, or ``None`` for an event that is not a time point."""
    return POINT_OF.get(type(event))


def event_order(event: WorkOrderEvent) -> tuple[datetime, datetime, str]:
    """Source clock first; the rest only breaks ties so that any input order gives one answer."""
    return (event.occurred_at, event.recorded_at, str(event.event_id))


def record_order(event: WorkOrderEvent) -> tuple[datetime, datetime, str]:
    """Our clock first: the order in which we learnt of the reports."""
    return (event.recorded_at, event.occurred_at, str(event.event_id))


@dataclass(frozen=True)
class Reading:
    """The reports behind one point: the first recorded, which sets it, and the later ones."""

    point: Point
    event: WorkOrderEventT
    others: tuple[WorkOrderEventT, ...]
    """Later distinct reports for the point, in the order we recorded them."""

    @property
    def conflicting(self) -> tuple[WorkOrderEventT, ...]:
        """Later reports that claim another time for the point."""
        return tuple(e for e in self.others if e.occurred_at != self.event.occurred_at)

    @property
    def duplicates(self) -> tuple[WorkOrderEventT, ...]:
        """Later reports that repeat the point's time (harmless)."""
        return tuple(e for e in self.others if e.occurred_at == self.event.occurred_at)

    @property
    def at(self) -> datetime:
        return self.event.occurred_at


@dataclass(frozen=True)
class Readings:
    """What the events say, as of the instant they were read at."""

    events: tuple[WorkOrderEventT, ...]
    """Every distinct event known by then, in source-clock order."""
    points: dict[Point, Reading]
    fault_cleared: FaultCleared | None

    def time(self, point: Point) -> datetime | None:
        reading = self.points.get(point)
        return None if reading is None else reading.at

    def moved_on(self, point: Point, *, cleared: bool = True) -> WorkOrderEventT | None:
        """The first report we recorded that shows the order went past ``point``: a report for a
        later point, else (with ``cleared``) the fault cleared, since a crew cannot clear a fault
        it never reached.

        Our clock picks it, not the stamps: the question it answers is *when did we learn* that
        the order had moved on (a segment then overdue by our records stays breached). Judging a
        segment passes ``cleared=False``: a fault cleared without an arrival does not release the
        crew from GH (nor the promise from A to H)."""
        later = [
            self.points[after].event
            for after in list(Point)[point.position + 1 :]
            if after in self.points
        ]
        if later:
            return min(later, key=record_order)
        return self.fault_cleared if cleared else None


def read_events(work_order_id: UUID, events: Iterable[WorkOrderEventT], now: datetime) -> Readings:
    """Keep the events recorded by ``now``, once each, and pick the event behind each point.

    Raises ``ValueError`` for an event of another work order: mixing orders is a caller's bug
    that would otherwise pass as a duplicate point.
    """
    copies: dict[UUID, list[WorkOrderEventT]] = {}
    for event in events:
        if event.work_order_id != work_order_id:
            raise ValueError(
                f"event {event.event_id} belongs to work order {event.work_order_id}, "
                f"not {work_order_id}"
            )
        if event.recorded_at <= now:
            copies.setdefault(event.event_id, []).append(event)
    distinct = sorted((_one_of(same_id) for same_id in copies.values()), key=event_order)

    by_point: dict[Point, dict[tuple[str, ...], WorkOrderEventT]] = {}
    cleared: FaultCleared | None = None
    # In the order we recorded them, so that the first kept of anything is the first recorded.
    for event in sorted(distinct, key=record_order):
        if isinstance(event, FaultCleared):
            if cleared is None:
                cleared = event
            continue
        posts = by_point.setdefault(POINT_OF[type(event)], {})
        posts.setdefault(_report_key(event), event)

    points: dict[Point, Reading] = {}
    for point, posts in by_point.items():
        first, *others = posts.values()  # insertion order: the order we recorded them
        points[point] = Reading(point=point, event=first, others=tuple(others))
    return Readings(events=tuple(distinct), points=points, fault_cleared=cleared)


def _report_key(event: WorkOrderEventT) -> tuple[str, ...]:
    """What makes two events one report. A unit's retry repeats its report id (unique per
    vehicle) under a new event id, with the same stamp: still one report. The same report id with
    another stamp is not a retry but another claim, so it is kept apart (and conflicts)."""
    if isinstance(event.payload, CrewReportPayload):
        payload = event.payload
        return ("report", payload.vehicle_id, payload.report_id, at(event.occurred_at))
    return ("event", str(event.event_id))


def _one_of(same_id: list[WorkOrderEventT]) -> WorkOrderEventT:
    """One event for one event id. Copies are normally identical; should two differ, the pick
    must still not depend on the order they came in."""
    first = same_id[0]
    if all(copy == first for copy in same_id):
        return first
    return min(same_id, key=lambda copy: (copy.model_dump_json(), copy.event_type))
