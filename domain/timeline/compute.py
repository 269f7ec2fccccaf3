"""Rebuild one work order's timeline from A to H from its events: the one function the services and the
auditors share, so that the live picture and a replay cannot disagree."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

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
from domain.timeline.gaps import find_gaps
from domain.timeline.letters import POINTS, SEGMENTS
from domain.timeline.measure import co_located, measure_span, repair_center
from domain.timeline.model import AttemptResult, GapResult, SegmentResult, Timeline, TotalResult
from domain.timeline.points import Readings, read_events
from domain.timeline.responsibility import NETWORK_LINK, decide


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
    now = utc(now)  # on the events' UTC (``read_events``): cheap to compare with their stamps
    readings = read_events(work_order_id, events, now)
    known_incidents = tuple(incidents)
    segments = _segments(
        readings, SEGMENTS, policy, now, known_incidents, _redispatch_floor(readings)
    )
    gaps = find_gaps(readings, policy, now, known_incidents)
    attempts = [
        _attempt(readings, attempt, policy, now, known_incidents, segments, gaps)
        for attempt in readings.attempts.attempts
    ]
    return Timeline.model_construct(
        work_order_id=work_order_id,
        as_of=now,
        policy_version=policy.version,
        points=_times(readings, POINTS),
        segments=segments,
        total=_total(readings, policy, now, segments),
        fault_cleared_at=(
            None if readings.fault_cleared is None else readings.fault_cleared.occurred_at
        ),
        anomalies=in_order(
            [
                *point_anomalies(readings),
                *event_anomalies(readings, policy, now),
                *attempt_anomalies(readings, attempts),
            ]
        ),
        attempts=attempts,
        gaps=gaps,
    )


_ATTEMPT_POINTS = (Point.D, Point.E, Point.F, Point.G, Point.H)

_ENDS: dict[Segment, tuple[Point, Point, str]] = {
    segment: (segment.start, segment.end, str(segment)) for segment in SEGMENTS
}
"""Each segment's points and name, read for every segment of every judgement."""
_ATTEMPT_SEGMENTS = (Segment.DE, Segment.EF, Segment.FG, Segment.GH)


def _segments(
    readings: Readings,
    which: Iterable[Segment],
    policy: Policy,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
    cd_floor: tuple[datetime, str] | None,
) -> list[SegmentResult]:
    crew_co_located = co_located(readings)
    return [
        _segment(
            segment,
            readings,
            policy.limit_for(segment, crew_co_located=crew_co_located),
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
    timeline_segments: list[SegmentResult],
    timeline_gaps: list[GapResult],
) -> AttemptResult:
    """One attempt as its own reports tell it, for the history."""
    dispatch, recall = attempt.dispatch, attempt.recall
    if attempt is readings.attempts.current:
        # The current attempt's own reports are the ones the timeline's D to H follow (the
        # same events mark the same points, with no recall): its DE to GH and its gaps are the
        # timeline's own, already judged.
        own = readings
        segments = timeline_segments[Segment.DE.position :]
        gaps = [gap for gap in timeline_gaps if gap.end.position > Point.C.position]
    else:
        own = readings.of_attempt(attempt)
        segments = _segments(own, _ATTEMPT_SEGMENTS, policy, now, incidents, None)
        # Only the gaps its own dispatch or reports close: those ending at D to H.
        gaps = find_gaps(own, policy, now, incidents, ending_after=Point.C)
    return AttemptResult.model_construct(
        number=attempt.number,
        dispatch_event_id=dispatch.event_id,
        repair_center_id=dispatch.payload.repair_center_id,
        vehicle_id=dispatch.payload.vehicle_id,
        crew_id=dispatch.payload.crew_id,
        crew_co_located=dispatch.payload.crew_co_located,
        dispatched_at=dispatch.occurred_at,
        current=attempt is readings.attempts.current,
        recall_event_id=None if recall is None else recall.event_id,
        recalled_at=None if recall is None else recall.occurred_at,
        recall_reason=None if recall is None else recall.payload.reason,
        requested_by=None if recall is None else recall.payload.requested_by,
        points=_times(own, _ATTEMPT_POINTS),
        segments=segments,
        gaps=gaps,
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
    start_point, end_point, name = _ENDS[segment]
    start = readings.points.get(start_point)
    end = readings.points.get(end_point)
    if start is None:  # ``measure_span``'s answer without a start: incomplete, nothing to say
        return SegmentResult.model_construct(
            segment=segment,
            start=None,
            end=None if end is None else end.at,
            duration_s=None,
            limit_s=limit_s,
            status=SegmentStatus.INCOMPLETE,
            responsible=None,
            evidence=None,
            dispute=None,
            skew=None,
        )
    measure = measure_span(
        name,
        start,
        end,
        # Asked only for a segment open at its end: with its end known, unused.
        None if end is not None else readings.moved_on(end_point, cleared=False),
        now,
        limit_s,
        readings,
        policy,
        floor,
    )

    responsible: Responsible | None = None
    evidence: str | None = None
    if measure.until is not None:
        if segment in NETWORK_LINK:
            responsible, network_evidence = decide(
                segment,
                start.at,
                measure.until,
                incidents,
                repair_center(readings, segment),
                policy.parties,
            )
        else:  # ``decide``'s answer for a fixed party, without asking for a repair center
            responsible, network_evidence = policy.parties[segment], None
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
        elif measure.skew is not None and measure.duration is not None:
            parts.append(_breach(segment, readings, measure.duration, limit_s, False))
            parts.append(measure.skew.message)
        if network_evidence is not None:
            parts.append(network_evidence)
        evidence = "; ".join(parts) or None

    # The stamps are on UTC already (``read_events``): no conversion to serialise them alike.
    return SegmentResult.model_construct(
        segment=segment,
        start=start.at,
        end=None if end is None else end.at,
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=limit_s,
        status=measure.status,
        responsible=responsible,
        evidence=evidence,
        dispute=measure.dispute,
        skew=measure.skew,
    )


def _total(
    readings: Readings, policy: Policy, now: datetime, segments: list[SegmentResult]
) -> TotalResult:
    start, end = readings.points.get(Point.A), readings.points.get(Point.H)
    # Nothing but H ends the promise: a fault cleared without an arrival does not.
    measure = measure_span("A to H", start, end, None, now, policy.total_limit_s, readings, policy)
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
    return TotalResult.model_construct(
        start=None if start is None else start.at,
        end=None if end is None else end.at,
        duration_s=None if measure.duration is None else measure.duration.total_seconds(),
        limit_s=policy.total_limit_s,
        status=measure.status,
        responsible=responsible,
        dispute=measure.dispute,
        skew=measure.skew,
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


def _times(readings: Readings, which: tuple[Point, ...]) -> dict[Point, datetime | None]:
    """The stamps of ``which`` as ``readings`` set them, ``None`` where unset. Every stamp the
    judge reads is on UTC already (``read_events`` puts it there), as every served one must be:
    converting again would hand back the very same object."""
    points = readings.points
    return {point: None if (r := points.get(point)) is None else r.at for point in which}
