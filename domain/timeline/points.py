"""From a work order's events to its time points.

Only what we knew by the as-of instant counts, and an event posted twice counts once. Each point
is set by the **first report we recorded** for it (ADR 0005): a later report for the same point
never moves it, whatever its stamp, so that the party answering for a segment cannot shorten it
by posting again. The point's time is that report's stamp (``occurred_at``, the source's clock).
A unit's retry (its report id again, with the same stamp) is the same report; anything else is
another report, kept beside the standing one for the anomalies and the disputes.

D to H follow the attempt under way (``domain.timeline.attempts``, ADR 0008): the last dispatch
not recalled, and only the crew reports caused by it. After a recall and before a new dispatch
there is no D, and the recalled attempts' reports set no point at all.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import assert_never, cast
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
    WorkOrderDispatched,
    WorkOrderRecalled,
    WorkOrderReceived,
)
from contracts.envelope import WorkOrderEvent
from contracts.intake import CallEnded, WorkOrderClosed, WorkOrderIssued
from contracts.registry import WorkOrderEventT
from domain.policy import Point
from domain.timeline.attempts import Attempt, Attempts, record_key, record_order, trace_recorded
from domain.timeline.kinds import Kind, kind_of
from domain.timeline.letters import POINTS

__all__ = [
    "Reading",
    "Readings",
    "event_order",
    "on_utc",
    "point_of",
    "read_events",
    "record_key",
    "record_order",
]

_MARKS: dict[type, Point | None] = {}
"""``point_of`` by the event's class, learnt on first sight: the answer depends on the class
alone, and a dict lookup is cheaper than the match's chain of class checks."""


def point_of(event: WorkOrderEventT) -> Point | None:
    """The point ``event`` marks, or ``None`` for an event that is not a time point: the fault
    cleared (after H), a recall, a dispatch blocked, the order closed (the callback)."""
    kind = type(event)
    if kind in _MARKS:
        return _MARKS[kind]
    marks = _MARKS[kind] = _point_of(event)
    return marks


def _point_of(event: WorkOrderEventT) -> Point | None:
    match event:
        case CallEnded():
            return Point.A
        case WorkOrderIssued():
            return Point.B
        case WorkOrderReceived():
            return Point.C
        case WorkOrderDispatched():
            return Point.D
        case OrderReachedCrew():
            return Point.E
        case OrderAcceptedByCrew():
            return Point.F
        case CrewDeparted():
            return Point.G
        case CrewArrived():
            return Point.H
        case FaultCleared() | WorkOrderRecalled() | DispatchBlocked() | WorkOrderClosed():
            return None
        case _:
            assert_never(event)


def event_order(event: WorkOrderEvent) -> tuple[datetime, datetime, str]:
    """Source clock first; the rest only breaks ties so that any input order gives one answer."""
    return (event.occurred_at, event.recorded_at, str(event.event_id))


def _event_key(event: WorkOrderEvent) -> tuple[datetime, datetime, UUID]:
    """``event_order``'s order without spelling the id (see ``record_key``)."""
    return (event.occurred_at, event.recorded_at, event.event_id)


@dataclass(frozen=True)
class Reading:
    """The reports behind one point: the first recorded, which sets it, and the later ones."""

    point: Point
    event: WorkOrderEventT
    others: tuple[WorkOrderEventT, ...]
    """Later distinct reports for the point, in the order we recorded them."""
    conflicting: tuple[WorkOrderEventT, ...] = field(init=False, repr=False, compare=False)
    """Later reports that claim another time for the point."""
    duplicates: tuple[WorkOrderEventT, ...] = field(init=False, repr=False, compare=False)
    """Later reports that repeat the point's time (harmless)."""

    def __post_init__(self) -> None:
        # Asked for by every segment, gap and anomaly that touches the point: split once.
        if not self.others:  # the usual case: one report per point
            object.__setattr__(self, "conflicting", ())
            object.__setattr__(self, "duplicates", ())
            return
        stamp = self.event.occurred_at
        object.__setattr__(
            self, "conflicting", tuple(e for e in self.others if e.occurred_at != stamp)
        )
        object.__setattr__(
            self, "duplicates", tuple(e for e in self.others if e.occurred_at == stamp)
        )

    @property
    def at(self) -> datetime:
        return self.event.occurred_at


@dataclass(frozen=True)
class Readings:
    """What the events say, as of the instant they were read at."""

    events: tuple[WorkOrderEventT, ...]
    """Every distinct event known by then, in source-clock order."""
    points: dict[Point, Reading]
    """In the order their first reports were recorded."""
    fault_cleared: FaultCleared | None
    attempts: Attempts
    """Every dispatch attempt known by then (``points`` D to H follow the current one)."""
    recalled_by: WorkOrderRecalled | None = None
    """Only in the readings of one recalled attempt: the recall that withdrew it."""
    recorded: tuple[WorkOrderEventT, ...] = field(default=(), repr=False, compare=False)
    """``events`` in the order we recorded them (``record_key``), sorted once for the attempts,
    the points and every attempt's own readings."""
    _later: tuple[WorkOrderEventT | None, ...] = field(init=False, repr=False, compare=False)
    """By point position: the first report we recorded of any later point, if any."""
    _own: dict[int, tuple[Attempt, "Readings"]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """``of_attempt``'s answers, asked again by the attempt's history and its anomaly."""

    def __post_init__(self) -> None:
        # Every segment, gap and missing point asks which later point came first: answer all
        # eight questions at once, from H back to A. ``points`` lists the points in the order
        # their first reports were recorded (``_readings`` builds it so): of several, the
        # first recorded is the one listed first (the events' record keys never tie).
        rank = {point: n for n, point in enumerate(self.points)}
        later: list[WorkOrderEventT | None] = [None] * len(POINTS)
        first: WorkOrderEventT | None = None
        best = len(rank)
        for n in range(len(POINTS) - 1, 0, -1):
            listed = rank.get(POINTS[n])
            if listed is not None and listed < best:
                best, first = listed, self.points[POINTS[n]].event
            later[n - 1] = first
        object.__setattr__(self, "_later", tuple(later))

    def time(self, point: Point) -> datetime | None:
        reading = self.points.get(point)
        return None if reading is None else reading.at

    def later_point(self, point: Point) -> WorkOrderEventT | None:
        """The first report we recorded of a point after ``point`` (a recall is not a point)."""
        return self._later[point.position]

    def moved_on(self, point: Point, *, cleared: bool = True) -> WorkOrderEventT | None:
        """The first report we recorded that shows the order went past ``point``: a report for a
        later point, else (with ``cleared``) the fault cleared, since a crew cannot clear a fault
        it never reached. In a recalled attempt's readings its recall counts too: the attempt
        went no further.

        Our clock picks it, not the stamps: the question it answers is *when did we learn* that
        the order had moved on (a segment then overdue by our records stays breached). Judging a
        segment passes ``cleared=False``: a fault cleared without an arrival does not release the
        crew from GH (nor the promise from A to H)."""
        later = self._later[point.position]
        recall = self.recalled_by
        # On a tie the point wins, as the first minimum of [points..., recall] would.
        if recall is not None and (later is None or record_key(recall) < record_key(later)):
            later = recall
        if later is not None:
            return later
        return self.fault_cleared if cleared else None

    def of_attempt(self, attempt: Attempt) -> "Readings":
        """The order's A to C with D to H as ``attempt``'s own reports set them, ended by its
        recall if it was recalled: how that attempt stood, for the auditor's history."""
        known = self._own.get(attempt.number)
        if known is not None and known[0] is attempt:
            return known[1]
        own = _readings(
            self.events,
            self.recorded,
            (*attempt.dispatches, *attempt.reports),
            self.attempts,
            attempt.recall,
        )
        self._own[attempt.number] = (attempt, own)
        return own


def read_events(work_order_id: UUID, events: Iterable[WorkOrderEventT], now: datetime) -> Readings:
    """Keep the events recorded by ``now``, once each, and pick the event behind each point.

    D to H (and the fault cleared) come from the current attempt only; with no dispatch known
    at all, E to H come from whatever the crew reported.

    Raises ``ValueError`` for an event of another work order: mixing orders is a caller's bug
    that would otherwise pass as a duplicate point.
    """
    # Ids compared and grouped by their integers: the same partition as the UUIDs', whose
    # ``__eq__`` and ``__hash__`` are Python code.
    order = work_order_id.int
    copies: dict[int, list[WorkOrderEventT]] = {}
    for event in events:
        if event.work_order_id.int != order:
            raise ValueError(
                f"event {event.event_id} belongs to work order {event.work_order_id}, "
                f"not {work_order_id}"
            )
        if event.recorded_at <= now:
            key = event.event_id.int
            same_id = copies.get(key)
            if same_id is None:
                copies[key] = [event]
            else:
                same_id.append(event)
    distinct = tuple(
        sorted(
            [
                on_utc(same_id[0] if len(same_id) == 1 else _one_of(same_id))
                for same_id in copies.values()
            ],
            key=_event_key,
        )
    )
    # Our clock's order, sorted once: the attempts, the points and every attempt's own readings
    # read the events in it.
    recorded = tuple(sorted(distinct, key=record_key))
    attempts = trace_recorded(recorded)
    current = attempts.current
    reach: tuple[WorkOrderEventT, ...]
    if current is not None:
        reach = (*current.dispatches, *current.reports)
    elif not attempts.attempts:
        reach = attempts.unattributed
    else:
        reach = ()  # the last attempt was recalled: no D yet, CD runs again
    return _readings(distinct, recorded, reach, attempts, None)


def _readings(
    events: tuple[WorkOrderEventT, ...],
    recorded: tuple[WorkOrderEventT, ...],
    reach: tuple[WorkOrderEventT, ...],
    attempts: Attempts,
    recalled_by: WorkOrderRecalled | None,
) -> Readings:
    """The points set by the opening events (A to C) and ``reach`` (D to H and the fault
    cleared, of one attempt): for each, the first report recorded and the later ones.

    ``recorded`` is every event in record order; ``reach`` are some of those very objects. Read
    in that order, so that the first kept of anything is the first recorded (the events' record
    keys are distinct, so filtering the sorted whole is sorting the part)."""
    wanted = {id(event) for event in reach}
    by_point: dict[Point, list[WorkOrderEventT]] = {}
    reports: set[tuple[object, ...]] = set()
    cleared: FaultCleared | None = None
    opening, crew_point, is_cleared = Kind.OPENING, Kind.CREW_POINT, Kind.CLEARED
    for event in recorded:
        kind = kind_of(event)
        if kind is not opening and id(event) not in wanted:
            continue
        point = point_of(event)
        if point is None:
            if kind is is_cleared and cleared is None:
                cleared = cast(FaultCleared, event)
            continue
        if kind is crew_point:
            # A unit's retry is the report it repeats (see ``_report_key``); any other event
            # is a report of its own (the events are distinct by id).
            key = (point, *_report_key(event))
            if key in reports:
                continue
            reports.add(key)
        posts = by_point.get(point)
        if posts is None:
            by_point[point] = [event]
        else:
            posts.append(event)

    points: dict[Point, Reading] = {
        point: Reading(point, posts[0], tuple(posts[1:])) for point, posts in by_point.items()
    }
    return Readings(
        events=events,
        points=points,
        fault_cleared=cleared,
        attempts=attempts,
        recalled_by=recalled_by,
        recorded=recorded,
    )


def _report_key(event: WorkOrderEventT) -> tuple[object, ...]:
    """What makes two crew reports one report. A unit's retry repeats its report id (unique per
    vehicle) under a new event id, with the same stamp: still one report. The same report id with
    another stamp is not a retry but another claim, so it is kept apart (and conflicts).

    The stamp is compared as an instant (aware datetimes are equal, and hash alike, exactly when
    their UTC spellings are): the same partition as spelling it, cheaper."""
    payload = cast(CrewReportPayload, event.payload)
    return (payload.vehicle_id, payload.report_id, event.occurred_at)


_STAMPS = frozenset({"occurred_at", "recorded_at"})

_Copies = dict[int, tuple[WorkOrderEventT, WorkOrderEventT]]
_COPIES: _Copies = {}
"""``on_utc``'s copies by the ``id`` of their original, with the original itself: held here, it
stays alive, so no other object can take its id while the entry stands. The projection judges an
order again at every event it consumes, passing the very event objects it keeps in memory: each
is copied once rather than at every judgement (the copy is as frozen as its original)."""
_OLDER: _Copies = {}
"""The generation before: a copy asked for again moves back into ``_COPIES``, so the events of
the orders under way stay copied and only those not asked for in a whole generation go."""

_COPIES_KEPT = 16_384
"""Per generation (so at most twice as many are held). The events of the orders under way must
fit: some 4,800 orders are under way at once on a storm day of 110,000 (the bench's replay), of
some five events so far each, shared between the rebuild's processes. At 8,192, cleared at once
when full, nearly every event was copied again at every judgement of a large rebuild (issue 9).
A copy is some 1.3 kB; an original it keeps alive after its order is done, some 2.9 kB."""


def on_utc(event: WorkOrderEventT) -> WorkOrderEventT:
    """``event`` with its two stamps on ``UTC``: the same instants, so the same answers.

    Parsed stamps each carry their own tzinfo object, and comparing or subtracting two aware
    datetimes with different tzinfo objects asks both for their offset; on one shared ``UTC``
    it is plain arithmetic, and the judge compares and subtracts stamps hundreds of times."""
    key = id(event)
    known = _COPIES.get(key)
    if known is None and (known := _OLDER.get(key)) is not None:
        _remember(key, known)  # asked for again: into the young generation
    if known is not None and known[0] is event:
        return known[1]
    occurred, recorded = event.occurred_at, event.recorded_at
    if occurred.tzinfo is UTC and recorded.tzinfo is UTC:
        return event
    # ``model_copy(update=...)``, less its generic copying: a shallow copy of the fields with
    # the two stamps replaced (the copy never leaves the judge, and the model is frozen).
    state = dict(event.__dict__)
    state["occurred_at"] = occurred.astimezone(UTC)
    state["recorded_at"] = recorded.astimezone(UTC)
    copy = type(event).__new__(type(event))
    _set = object.__setattr__
    _set(copy, "__dict__", state)
    _set(copy, "__pydantic_fields_set__", event.__pydantic_fields_set__ | _STAMPS)
    _set(copy, "__pydantic_extra__", event.__pydantic_extra__)
    _set(copy, "__pydantic_private__", event.__pydantic_private__)
    _remember(key, (event, copy))
    return copy


def _remember(key: int, entry: tuple[WorkOrderEventT, WorkOrderEventT]) -> None:
    global _COPIES, _OLDER
    if len(_COPIES) >= _COPIES_KEPT:  # a new generation; the oldest is dropped whole
        _OLDER, _COPIES = _COPIES, {}
    _COPIES[key] = entry


def _one_of(same_id: list[WorkOrderEventT]) -> WorkOrderEventT:
    """One event for one event id. Copies are normally identical; should two differ, the pick
    must still not depend on the order they came in."""
    first = same_id[0]
    if len(same_id) == 1 or all(copy is first or copy == first for copy in same_id):
        return first
    return min(same_id, key=lambda copy: (copy.model_dump_json(), copy.event_type))
