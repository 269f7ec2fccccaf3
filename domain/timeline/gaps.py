"""Spans across points the order moved past without (ADR 0009).

The unit never sent E, yet F came: DE and EF are each ``incomplete``, but the time from D to F
can still be judged, against the sum of the two limits, and it names both parties that could
have lost it. In general any run of points passed without between two points that stand.

A point is *passed without* when we recorded a later point before it: it had no report then, or
its first report came only later, beyond ``record_gap_tolerance_s`` (a unit's reports overtaking
each other by a few seconds are no gap). So a missing point posted afterwards does not dissolve a
gap once found: the gap's finding, like a segment's, cannot be posted away.
"""

from datetime import datetime, timedelta
from itertools import pairwise

from contracts.network import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, Responsible
from domain.timeline._format import at, seconds, utc
from domain.timeline.letters import POINTS, SEGMENTS
from domain.timeline.measure import co_located, measure_span, repair_center
from domain.timeline.model import GapResult
from domain.timeline.points import Reading, Readings, point_of
from domain.timeline.responsibility import decide


def passed_without(readings: Readings, point: Point, tolerance: timedelta) -> bool:
    """Whether the order went past ``point`` without it: a later point was recorded while
    ``point`` had no report, or more than ``tolerance`` before its first report."""
    moved_on = _later_point(readings, point)
    if moved_on is None:
        return False
    reading = readings.points.get(point)
    return reading is None or reading.event.recorded_at - moved_on.recorded_at > tolerance


def _later_point(readings: Readings, point: Point) -> WorkOrderEventT | None:
    """The first report we recorded of a point after ``point`` (a recall is not a point)."""
    return readings.later_point(point)


def find_gaps(
    readings: Readings,
    policy: Policy,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
    *,
    ending_after: Point = Point.A,
) -> list[GapResult]:
    """Every gap of ``readings``, earliest first; only those ending after ``ending_after``
    (an attempt's history keeps the gaps its own reports close)."""
    tolerance = timedelta(seconds=policy.record_gap_tolerance_s)
    # ``passed_without`` of each point that has a report, spelt out: asked at every judgement.
    standing: list[Reading] = []
    for point in POINTS:
        reading = readings.points.get(point)
        if reading is None:
            continue
        moved_on = readings.later_point(point)
        if moved_on is None or reading.event.recorded_at - moved_on.recorded_at <= tolerance:
            standing.append(reading)
    if _consecutive(standing):
        return []  # the usual case: no point missing between two that stand
    return [
        _gap(readings, start, end, policy, now, incidents)
        for start, end in pairwise(standing)
        if end.point.position - start.point.position > 1
        and end.point.position > ending_after.position
    ]


def _consecutive(standing: list[Reading]) -> bool:
    """Whether the points standing follow one another in letter order with none between."""
    positions = [reading.point.position for reading in standing]
    return not positions or positions[-1] - positions[0] == len(positions) - 1


def _gap(
    readings: Readings,
    start: Reading,
    end: Reading,
    policy: Policy,
    now: datetime,
    incidents: tuple[NetworkIncidentPayload, ...],
) -> GapResult:
    covered = list(SEGMENTS[start.point.position : end.point.position])
    crew_co_located = co_located(readings)
    limits = [policy.limit_for(segment, crew_co_located=crew_co_located) for segment in covered]
    limit_s = sum(limits)
    name = f"{start.point} to {end.point}"
    measure = measure_span(name, start, end, None, now, limit_s, readings, policy)
    missing = list(POINTS[start.point.position + 1 : end.point.position])

    candidates: list[Responsible] = []
    decided: list[str] = []
    for segment in covered:
        finding = decide(
            segment, start.at, end.at, incidents, repair_center(readings, segment), policy.parties
        )
        candidates.append(finding.responsible)
        because = f" ({finding.network_evidence})" if finding.network_evidence else ""
        decided.append(f"{segment}: {finding.responsible}{because}")

    assert measure.duration is not None  # both ends are known
    sum_of = " + ".join(
        f"{segment} {limit} s" for segment, limit in zip(covered, limits, strict=True)
    )
    parts = [
        f"{name} took {seconds(measure.duration)} against the sum of the limits of "
        f"{', '.join(covered)} ({sum_of} = {limit_s} s) ({start.point}: event "
        f"{start.event.event_id}, {end.point}: event {end.event.event_id})",
        *(_why_missing(readings, point) for point in missing),
        f"the parties that could have lost the time: {'; '.join(decided)}",
    ]
    if measure.skew is not None:
        parts.append(measure.skew.message)
    return GapResult.model_construct(
        segments=covered,
        start=start.point,
        end=end.point,
        started_at=utc(start.at),
        ended_at=utc(end.at),
        duration_s=measure.duration.total_seconds(),
        limit_s=limit_s,
        status=measure.status,
        responsible_candidates=candidates,
        missing=missing,
        evidence="; ".join(parts),
        dispute=measure.dispute,
        skew=measure.skew,
    )


def _why_missing(readings: Readings, point: Point) -> str:
    moved_on = _later_point(readings, point)
    assert moved_on is not None  # the gap's end is a later point
    went_past = (
        f"the order went past it with {point_of(moved_on)} (event {moved_on.event_id}, "
        f"recorded {at(moved_on.recorded_at)})"
    )
    reading = readings.points.get(point)
    if reading is None:
        return f"{point} was never reported: {went_past}"
    return (
        f"{point} was reported only at {at(reading.event.recorded_at)} (event "
        f"{reading.event.event_id}), after {went_past}"
    )
