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
from domain.timeline._format import at, seconds, utc
from domain.timeline.anomalies import event_anomalies, in_order, point_anomalies
from domain.timeline.model import SegmentResult, Timeline, TotalResult
from domain.timeline.points import Reading, Readings, read_events
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

    Each point is set by the first report we recorded for it, at that report's stamp; a later
    report for the same point never moves it (``conflicting_point``, and the finding is
    contested). A segment with both points is ``met`` when its duration is at most its limit,
    ``breached`` when over, ``invalid`` when negative; with only its start it is ``running`` until
    the limit has passed and ``breached`` after, unless a later point shows the order moved on
    without its end (``incomplete`` with ``missing_point``; ``breached`` when the order moved on
    only after the segment had been visibly overdue). A fault cleared never ends a segment.
    Without its start a segment is ``incomplete``. A ``met`` that is contested (a conflicting
    report that would change the finding, or an end recorded only after the segment had been
    visibly overdue for longer than ``policy.record_gap_tolerance_s``) is ``disputed`` instead:
    nothing the party answering for a breach posts afterwards turns it into ``met`` (ADR 0005).
    A to H is judged the same way against the total limit. The result depends only on the
    arguments, not on the order of ``events`` or ``incidents``.

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
            policy,
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
    note: str | None = None
    """Why a segment without its end is judged breached anyway."""
    dispute: str | None = None


def _judge(duration: timedelta, limit: timedelta) -> SegmentStatus:
    # Compared as timedeltas (exact microseconds), so that "duration == limit is met" is exact.
    if duration < timedelta(0):
        return SegmentStatus.INVALID
    return SegmentStatus.MET if duration <= limit else SegmentStatus.BREACHED


def _measure(
    name: str,
    start: Reading | None,
    end: Reading | None,
    moved_on: WorkOrderEventT | None,
    now: datetime,
    limit_s: int,
    policy: Policy,
) -> _Measure:
    limit = timedelta(seconds=limit_s)
    if start is None:
        return _Measure(SegmentStatus.INCOMPLETE, None, None)
    # From this instant on, our own records showed the segment open past its limit.
    overdue_since = max(start.event.recorded_at, start.at + limit)
    tolerance = timedelta(seconds=policy.record_gap_tolerance_s)
    if end is not None:
        duration = end.at - start.at
        status = _judge(duration, limit)
        contests = _alternatives(name, start, end, limit, status)
        reported = end.event.recorded_at - overdue_since
        if status is SegmentStatus.MET and reported > tolerance:
            contests.insert(
                0,
                f"{end.point} is stamped {at(end.at)}, within the limit, but was recorded only at "
                f"{at(end.event.recorded_at)}, {seconds(reported)} after {name} had been overdue "
                f"by our records (since {at(overdue_since)}); "
                f"{_delays(start, end)}",
            )
        if contests and status is SegmentStatus.MET:
            status = SegmentStatus.DISPUTED
        return _Measure(status, duration, end.at, dispute="; ".join(contests) or None)
    if moved_on is not None:
        reported = moved_on.recorded_at - overdue_since
        if reported > tolerance:
            note = (
                f"{name} had been overdue by our records since {at(overdue_since)} when the order "
                f"moved on without {name[-1]} (event {moved_on.event_id}, {moved_on.event_type}, "
                f"recorded {at(moved_on.recorded_at)})"
            )
            return _Measure(SegmentStatus.BREACHED, None, moved_on.occurred_at, note=note)
        return _Measure(SegmentStatus.INCOMPLETE, None, moved_on.occurred_at)
    elapsed = now - start.at
    status = SegmentStatus.RUNNING if elapsed <= limit else SegmentStatus.BREACHED
    return _Measure(status, elapsed, now)


def _alternatives(
    name: str, start: Reading, end: Reading, limit: timedelta, status: SegmentStatus
) -> list[str]:
    """The conflicting reports that, put in place of the standing ones, would judge otherwise."""
    found = []
    for point, standing, others in (
        (start.point, start, start.conflicting),
        (end.point, end, end.conflicting),
    ):
        for other in others:
            begin = other.occurred_at if standing is start else start.at
            finish = other.occurred_at if standing is end else end.at
            would = _judge(finish - begin, limit)
            if would is not status:
                found.append(
                    f"a later report puts {point} at {at(other.occurred_at)} (event "
                    f"{other.event_id}, recorded {at(other.recorded_at)}), under which {name} "
                    f"would be {would}; the first recorded report, {at(standing.at)}, stands"
                )
    return found


def _delays(start: Reading, end: Reading) -> str:
    """How late the end's source delivered its reports: its measured delay (or skew)."""
    source = end.event.source
    delays = [
        (e.recorded_at - e.occurred_at).total_seconds()
        for e in (start.event, end.event)
        if e.source == source
    ]
    return f"{source}'s reports reached us {seconds(min(delays))} to {seconds(max(delays))} after their stamps"


def _segment(
    segment: Segment,
    readings: Readings,
    limit_s: int,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
    policy: Policy,
) -> SegmentResult:
    start = readings.points.get(segment.start)
    end = readings.points.get(segment.end)
    measure = _measure(
        str(segment),
        start,
        end,
        readings.moved_on(segment.end, cleared=False),
        now,
        limit_s,
        policy,
    )

    responsible: Responsible | None = None
    evidence: str | None = None
    if start is not None and measure.until is not None:
        finding = decide(
            segment, start.at, measure.until, incidents, _repair_center(readings, segment)
        )
        responsible = finding.responsible
        parts = []
        if measure.note is not None:
            parts.append(measure.note)
        elif measure.status is SegmentStatus.INVALID and measure.duration is not None:
            assert end is not None
            parts.append(
                f"{segment} measures {seconds(measure.duration)}: {segment.end} (event "
                f"{end.event.event_id}) is stamped before {segment.start} (event "
                f"{start.event.event_id}); a negative segment cannot be judged met"
            )
        elif measure.status is SegmentStatus.BREACHED and measure.duration is not None:
            parts.append(_breach(segment, readings, measure.duration, limit_s, end is None))
        if finding.network_evidence is not None:
            parts.append(finding.network_evidence)
        evidence = "; ".join(parts) or None

    return SegmentResult(
        segment=segment,
        start=_utc_or_none(None if start is None else start.at),
        end=_utc_or_none(None if end is None else end.at),
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=limit_s,
        status=measure.status,
        responsible=responsible,
        evidence=evidence,
        dispute=measure.dispute,
    )


def _total(
    readings: Readings, policy: Policy, now: datetime, segments: list[SegmentResult]
) -> TotalResult:
    start, end = readings.points.get(Point.A), readings.points.get(Point.H)
    # Nothing but H ends the promise: a fault cleared without an arrival does not.
    measure = _measure("A to H", start, end, None, now, policy.total_limit_s, policy)
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
        start=_utc_or_none(None if start is None else start.at),
        end=_utc_or_none(None if end is None else end.at),
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=policy.total_limit_s,
        status=measure.status,
        responsible=responsible,
        dispute=measure.dispute,
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
