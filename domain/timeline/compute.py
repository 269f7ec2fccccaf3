"""Rebuild one work order's timeline from A to H from its events: the one function the services and the
auditors share, so that the live picture and a replay cannot disagree."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from contracts.dispatch import WorkOrderDispatched
from contracts.intake import WorkOrderIssued
from contracts.network import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, Responsible, Segment, SegmentStatus
from domain.timeline._format import seconds, utc
from domain.timeline.anomalies import event_anomalies, in_order, point_anomalies
from domain.timeline.model import SegmentResult, Timeline, TotalResult
from domain.timeline.points import Readings, read_events
from domain.timeline.responsibility import decide


def compute_timeline(
    work_order_id: UUID,
    events: Iterable[WorkOrderEventT],
    policy: Policy,
    now: datetime,
    incidents: Iterable[NetworkIncidentPayload] = (),
) -> Timeline:
    """The timeline of ``work_order_id`` as it stood at ``now``.

    Only what we knew by ``now`` counts: events whose ``recorded_at`` is after ``now`` are
    ignored entirely, so calling this with a past instant replays the picture of that instant.
    ``incidents`` should likewise be the network incidents as known at ``now``.

    Points are set by the sources' clocks (``occurred_at``), whatever order the events come in;
    an event id seen twice counts once, and of two reports for one point the earliest wins
    (reported as ``duplicate_point``). A segment with both points is ``met`` when its duration is
    at most its limit, else ``breached``; with only its start, it is ``running`` until the limit
    has passed and ``breached`` after, unless a later point shows the order moved on without its
    end (``incomplete``, with ``missing_point``); without its start it is ``incomplete``. A to H
    is judged the same way against the total limit. The result depends only on the arguments,
    not on the order of ``events`` or ``incidents``.

    Raises ``ValueError`` if ``now`` is naive or an event belongs to another work order.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    readings = read_events(work_order_id, events, now)
    known_incidents = tuple(incidents)
    dispatch = _event(readings, Point.D)
    co_located = (
        dispatch.payload.crew_co_located if isinstance(dispatch, WorkOrderDispatched) else None
    )

    segments = [
        _segment(
            segment,
            readings,
            policy.limit_for(segment, crew_co_located=co_located),
            now,
            known_incidents,
        )
        for segment in Segment
    ]
    return Timeline(
        work_order_id=work_order_id,
        as_of=utc(now),
        policy_version=policy.version,
        points={point: _utc_or_none(readings.time(point)) for point in Point},
        segments=segments,
        total=_total(readings, policy, now, segments),
        fault_cleared_at=(
            None if readings.fault_cleared is None else utc(readings.fault_cleared.occurred_at)
        ),
        anomalies=in_order([*point_anomalies(readings), *event_anomalies(readings, policy, now)]),
    )


@dataclass(frozen=True)
class _Measure:
    status: SegmentStatus
    duration: timedelta | None
    until: datetime | None
    """Where the interval the segment covered ends: its end, else the report that shows the
    order moved on, else now."""


def _measure(
    start: datetime | None,
    end: datetime | None,
    moved_on: datetime | None,
    now: datetime,
    limit_s: int,
) -> _Measure:
    # Compared as timedeltas (exact microseconds), so that "duration == limit is met" is exact.
    limit = timedelta(seconds=limit_s)
    if start is None:
        return _Measure(SegmentStatus.INCOMPLETE, None, None)
    if end is not None:
        duration = end - start
        status = SegmentStatus.MET if duration <= limit else SegmentStatus.BREACHED
        return _Measure(status, duration, end)
    if moved_on is not None:
        return _Measure(SegmentStatus.INCOMPLETE, None, moved_on)
    elapsed = now - start
    status = SegmentStatus.RUNNING if elapsed <= limit else SegmentStatus.BREACHED
    return _Measure(status, elapsed, now)


def _segment(
    segment: Segment,
    readings: Readings,
    limit_s: int,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
) -> SegmentResult:
    start, end = readings.time(segment.start), readings.time(segment.end)
    successor = readings.moved_on(segment.end)
    moved_on = None if successor is None else successor.occurred_at
    measure = _measure(start, end, moved_on, now, limit_s)

    responsible: Responsible | None = None
    evidence: str | None = None
    if start is not None and measure.until is not None:
        finding = decide(
            segment, start, measure.until, incidents, _repair_center(readings, segment)
        )
        responsible = finding.responsible
        parts = []
        if measure.status is SegmentStatus.BREACHED and measure.duration is not None:
            parts.append(_breach(segment, readings, measure.duration, limit_s, end is None))
        if finding.network_evidence is not None:
            parts.append(finding.network_evidence)
        evidence = "; ".join(parts) or None

    return SegmentResult(
        segment=segment,
        start=_utc_or_none(start),
        end=_utc_or_none(end),
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=limit_s,
        status=measure.status,
        responsible=responsible,
        evidence=evidence,
    )


def _total(
    readings: Readings, policy: Policy, now: datetime, segments: list[SegmentResult]
) -> TotalResult:
    start, end = readings.time(Point.A), readings.time(Point.H)
    # Only the fault cleared can show the order went past H without H.
    cleared = readings.fault_cleared
    moved_on = None if cleared is None or end is not None else cleared.occurred_at
    measure = _measure(start, end, moved_on, now, policy.total_limit_s)
    # Who broke the 45-minute promise: named only once it is broken, from the breached segments.
    responsible: list[Responsible] = []
    for result in segments if measure.status is SegmentStatus.BREACHED else ():
        party = result.responsible
        if (
            result.status is SegmentStatus.BREACHED
            and party is not None
            and party not in responsible
        ):
            responsible.append(party)
    return TotalResult(
        start=_utc_or_none(start),
        end=_utc_or_none(end),
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=policy.total_limit_s,
        status=measure.status,
        responsible=responsible,
    )


def _breach(
    segment: Segment, readings: Readings, duration: timedelta, limit_s: int, live: bool
) -> str:
    first = readings.points[segment.start]
    if live:
        return (
            f"{segment} has been open {seconds(duration)} with no {segment.end} yet, "
            f"limit {limit_s} s ({segment.start}: event {first.event.event_id})"
        )
    last = readings.points[segment.end]
    return (
        f"{segment} took {seconds(duration)}, limit {limit_s} s "
        f"({segment.start}: event {first.event.event_id}, "
        f"{segment.end}: event {last.event.event_id})"
    )


def _repair_center(readings: Readings, segment: Segment) -> str | None:
    """The repair center the segment's hop led to, which scopes the incidents that count."""
    if segment is Segment.BC:
        issued = _event(readings, Point.B)
        return issued.payload.repair_center_id if isinstance(issued, WorkOrderIssued) else None
    if segment is Segment.DE:
        dispatch = _event(readings, Point.D)
        if isinstance(dispatch, WorkOrderDispatched):
            return dispatch.payload.repair_center_id
    return None


def _event(readings: Readings, point: Point) -> WorkOrderEventT | None:
    reading = readings.points.get(point)
    return None if reading is None else reading.event


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)
