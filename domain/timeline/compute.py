"""Rebuild one work order's timeline from A to H from its events: the one function the services and the
auditors share, so that the live picture and a replay cannot disagree."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from contracts.dispatch import WorkOrderDispatched, WorkOrderRecalled
from contracts.intake import WorkOrderIssued
from contracts.network import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, Responsible, Segment, SegmentStatus
from domain.timeline._format import at, seconds, utc
from domain.timeline.anomalies import (
    attempt_anomalies,
    event_anomalies,
    in_order,
    point_anomalies,
)
from domain.timeline.attempts import Attempt
from domain.timeline.model import AttemptResult, SegmentResult, Timeline, TotalResult
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
    report for the same point never moves it (``conflicting_point`` when it claims another
    time, ``duplicate_point`` when it repeats the stamp). A segment with both points is ``met``
    when its duration is at most its limit, ``breached`` when over, ``invalid`` when negative.
    With only its start it is ``running`` until the limit has passed and ``breached`` after,
    unless a later point shows the order moved on without its end: then ``incomplete`` (with
    ``missing_point``), or ``breached`` if we learnt of it only after the segment had been
    visibly overdue. A fault cleared never ends a segment nor A to H. Without its start a segment
    is ``incomplete``.

    A ``met`` that is contested is ``disputed`` instead, with the evidence in ``dispute``: a
    conflicting report for either point would judge it not met, or its end was recorded more
    than ``policy.record_gap_tolerance_s`` after the segment was visibly overdue by our own
    records. A contested ``breached`` or ``invalid`` stays so (its ``dispute`` says why it was
    contested). So nothing the party answering for a breach posts afterwards turns it into
    ``met`` (ADR 0005). A to H is judged the same way against the total limit; its
    ``responsible`` lists the parties of the ``breached`` segments once A to H is breached.

    D to H follow the attempt under way (rule 4, ADR 0008): the last dispatch not recalled, and
    the crew reports it caused. While the last one is recalled there is no D, and CD runs again
    from C; the time lost in earlier attempts counts in CD. A re-dispatch stamped before the
    attempt it replaces was withdrawn cannot shorten CD (contested as if ended there). Every
    attempt is in ``attempts``, with its own DE to GH; a recalled one's segment open at its
    recall is breached if we recorded the recall only once that segment was visibly overdue.

    The result depends only on the arguments, not on the order of ``events`` or ``incidents``,
    nor on an event being passed twice.

    Raises ``ValueError`` if ``now`` is naive or an event belongs to another work order.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    readings = read_events(work_order_id, events, now)
    known_incidents = tuple(incidents)
    segments = _segments(
        readings, list(Segment), policy, now, known_incidents, _redispatch_floor(readings)
    )
    attempts = [
        _attempt(readings, attempt, policy, now, known_incidents)
        for attempt in readings.attempts.attempts
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
        anomalies=in_order(
            [
                *point_anomalies(readings),
                *event_anomalies(readings, policy, now),
                *attempt_anomalies(readings, attempts),
            ]
        ),
        attempts=attempts,
    )


_ATTEMPT_POINTS = (Point.D, Point.E, Point.F, Point.G, Point.H)
_ATTEMPT_SEGMENTS = (Segment.DE, Segment.EF, Segment.FG, Segment.GH)


def _segments(
    readings: Readings,
    which: Iterable[Segment],
    policy: Policy,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
    cd_floor: tuple[datetime, str] | None,
) -> list[SegmentResult]:
    dispatch = _event(readings, Point.D)
    co_located = (
        dispatch.payload.crew_co_located if isinstance(dispatch, WorkOrderDispatched) else None
    )
    return [
        _segment(
            segment,
            readings,
            policy.limit_for(segment, crew_co_located=co_located),
            now,
            incidents,
            policy,
            cd_floor if segment is Segment.CD else None,
        )
        for segment in which
    ]


def _redispatch_floor(readings: Readings) -> tuple[datetime, str] | None:
    """For a re-dispatch, the latest stamp of the attempts it replaces (their dispatches and
    recalls): a new attempt is sent only after the last one was withdrawn, so a D stamped before
    it would shorten CD, the repair center's, by the very time lost in those attempts."""
    current = readings.attempts.current
    if current is None or current.number == 1:
        return None
    marks = [
        (event.occurred_at, f"{what} of attempt {attempt.number} (event {event.event_id})")
        for attempt in readings.attempts.attempts[: current.number - 1]
        for what, event in (("the dispatch", attempt.dispatch), ("the recall", attempt.recall))
        if event is not None
    ]
    return max(marks, key=lambda mark: (mark[0], mark[1]))


def _attempt(
    readings: Readings,
    attempt: Attempt,
    policy: Policy,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
) -> AttemptResult:
    """One attempt as its own reports tell it, for the history."""
    own = readings.of_attempt(attempt)
    dispatch, recall = attempt.dispatch, attempt.recall
    return AttemptResult(
        number=attempt.number,
        dispatch_event_id=dispatch.event_id,
        repair_center_id=dispatch.payload.repair_center_id,
        vehicle_id=dispatch.payload.vehicle_id,
        crew_id=dispatch.payload.crew_id,
        crew_co_located=dispatch.payload.crew_co_located,
        dispatched_at=utc(dispatch.occurred_at),
        current=attempt is readings.attempts.current,
        recall_event_id=None if recall is None else recall.event_id,
        recalled_at=None if recall is None else utc(recall.occurred_at),
        recall_reason=None if recall is None else recall.payload.reason,
        requested_by=None if recall is None else recall.payload.requested_by,
        points={point: _utc_or_none(own.time(point)) for point in _ATTEMPT_POINTS},
        segments=_segments(own, _ATTEMPT_SEGMENTS, policy, now, incidents, None),
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
    readings: Readings,
    policy: Policy,
    floor: tuple[datetime, str] | None = None,
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
        if floor is not None and end.at < floor[0]:
            contests.extend(_before_floor(name, start, end, floor, limit, status))
        reported = end.event.recorded_at - overdue_since
        if status is SegmentStatus.MET and reported > tolerance:
            contests.insert(0, _reported_when_overdue(name, start, end, overdue_since, readings))
        if contests and status is SegmentStatus.MET:
            status = SegmentStatus.DISPUTED
        return _Measure(status, duration, end.at, dispute="; ".join(contests) or None)
    if moved_on is not None:
        reported = moved_on.recorded_at - overdue_since
        if reported > tolerance:
            how = (
                "the attempt was recalled"
                if isinstance(moved_on, WorkOrderRecalled)
                else "the order moved on"
            )
            note = (
                f"{name} had been overdue by our records since {at(overdue_since)} when {how} "
                f"without {name[-1]} (event {moved_on.event_id}, {moved_on.event_type}, "
                f"recorded {at(moved_on.recorded_at)}, {seconds(reported)} later)"
            )
            return _Measure(SegmentStatus.BREACHED, None, moved_on.occurred_at, note=note)
        return _Measure(SegmentStatus.INCOMPLETE, None, moved_on.occurred_at)
    elapsed = now - start.at
    status = SegmentStatus.RUNNING if elapsed <= limit else SegmentStatus.BREACHED
    return _Measure(status, elapsed, now)


def _alternatives(
    name: str, start: Reading, end: Reading, limit: timedelta, status: SegmentStatus
) -> list[str]:
    """The conflicting reports that, put in place of the standing ones, would turn the finding
    from met to not met or back (breached and invalid are alike here: neither is met)."""
    met = status is SegmentStatus.MET
    found = []
    for standing in (start, end):
        for other in standing.conflicting:
            begin = other.occurred_at if standing is start else start.at
            finish = other.occurred_at if standing is end else end.at
            would = _judge(finish - begin, limit)
            if (would is SegmentStatus.MET) is not met:
                found.append(
                    f"a later report puts {standing.point} at {at(other.occurred_at)} (event "
                    f"{other.event_id}, recorded {at(other.recorded_at)}), under which {name} "
                    f"would be {would}, not {status}; the first recorded report stands: "
                    f"{standing.point} at {at(standing.at)} (event {standing.event.event_id}, "
                    f"recorded {at(standing.event.recorded_at)})"
                )
    return found


def _before_floor(
    name: str,
    start: Reading,
    end: Reading,
    floor: tuple[datetime, str],
    limit: timedelta,
    status: SegmentStatus,
) -> list[str]:
    """A re-dispatch stamped before the attempt it replaces was withdrawn: measured to that
    withdrawal instead, would the finding turn (met to not met or back)?"""
    would = _judge(floor[0] - start.at, limit)
    if (would is SegmentStatus.MET) is (status is SegmentStatus.MET):
        return []
    return [
        f"{end.point} (event {end.event.event_id}) is stamped {at(end.at)}, before {floor[1]} "
        f"at {at(floor[0])}; a new attempt is dispatched only after the one it replaces was "
        f"withdrawn, and measured to then {name} would be {would}, not {status}"
    ]


def _reported_when_overdue(
    name: str, start: Reading, end: Reading, overdue_since: datetime, readings: Readings
) -> str:
    """Rule (b) of ADR 0005: the end came in only after the segment showed overdue."""
    overdue_for = end.event.recorded_at - overdue_since
    return (
        f"{end.point} (event {end.event.event_id}) is stamped {at(end.at)}, within the limit "
        f"after {start.point} at {at(start.at)} (event {start.event.event_id}, recorded "
        f"{at(start.event.recorded_at)}), but was recorded only at "
        f"{at(end.event.recorded_at)}, {seconds(overdue_for)} after {name} had been overdue by "
        f"our records (since {at(overdue_since)}); judged by when we recorded it, {name} would "
        f"be {SegmentStatus.BREACHED}; {_delays(end.event.source, readings)}"
    )


def _delays(source: str, readings: Readings) -> str:
    """How late ``source`` delivered its reports on this order: its measured delay (or skew),
    which tells a unit that was offline from one that posted late on purpose."""
    delays = [
        (e.recorded_at - e.occurred_at).total_seconds()
        for e in readings.events
        if e.source == source
    ]
    return (
        f"{source}'s {len(delays)} report(s) on this order reached us "
        f"{seconds(min(delays))} to {seconds(max(delays))} after their stamps"
    )


def _segment(
    segment: Segment,
    readings: Readings,
    limit_s: int,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
    policy: Policy,
    floor: tuple[datetime, str] | None,
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
        readings,
        policy,
        floor,
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
                f"{segment} measures {seconds(measure.duration)}: {segment.end} is stamped "
                f"{at(end.at)} (event {end.event.event_id}), before {segment.start} at "
                f"{at(start.at)} (event {start.event.event_id}); a negative segment cannot be "
                f"judged met"
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
    measure = _measure("A to H", start, end, None, now, policy.total_limit_s, readings, policy)
    # Who broke the 45-minute promise: named only once it is broken, from the breached segments.
    # A disputed segment is not a breach here: its stamps say met, and the dispute says why
    # that is doubted; A to H carries its own dispute when it is contested.
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
