"""How one span of the timeline stands against its limit: a segment, a gap across missing
points (ADR 0009) or A to H. The rules of ADR 0005 (the first recorded report stands; a finding
the party could bend is ``disputed`` or ``invalid``, never ``met``) and of ADR 0009 (a breach
within the end unit's measured clock skew is ``indeterminate``) live here, once."""

from datetime import datetime, timedelta
from typing import NamedTuple

from contracts.dispatch import WorkOrderDispatched, WorkOrderRecalled
from contracts.intake import WorkOrderIssued
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, Segment, SegmentStatus
from domain.timeline._format import at, seconds
from domain.timeline.model import SkewEvidence
from domain.timeline.points import Reading, Readings
from domain.timeline.skew import ahead_within


class Measure(NamedTuple):  # a tuple: built for every span of every judgement, cheaply
    """How a span stands: its status, its duration so far and the evidence behind them."""

    status: SegmentStatus
    duration: timedelta | None
    until: datetime | None
    """Where the interval the segment covered ends: its end, else the report that shows the
    order moved on, else now."""
    note: str | None = None
    """Why a segment without its end is judged breached anyway."""
    dispute: str | None = None
    skew: SkewEvidence | None = None
    """Why the finding is ``indeterminate``, when it is."""


_ZERO = timedelta(0)

_SPANS: dict[int, timedelta] = {}
"""``timedelta(seconds=n)`` by ``n``: the few limits and tolerances of the policies, asked for
every span of every judgement."""


def _span(whole_s: int) -> timedelta:
    span = _SPANS.get(whole_s)
    if span is None:
        span = _SPANS[whole_s] = timedelta(seconds=whole_s)
    return span


def judge_duration(duration: timedelta, limit: timedelta) -> SegmentStatus:
    """``invalid`` if negative, ``met`` up to the limit inclusive, ``breached`` over it."""
    # Compared as timedeltas (exact microseconds), so that "duration == limit is met" is exact.
    if duration < _ZERO:
        return SegmentStatus.INVALID
    return SegmentStatus.MET if duration <= limit else SegmentStatus.BREACHED


def measure_span(
    name: str,
    start: Reading | None,
    end: Reading | None,
    moved_on: WorkOrderEventT | None,
    now: datetime,
    limit_s: int,
    readings: Readings,
    policy: Policy,
    floor: tuple[datetime, str] | None = None,
) -> Measure:
    """How the span ``name`` from ``start`` to ``end`` stands against ``limit_s`` at ``now``.

    Both known: ``met``/``breached``/``invalid`` by the stamps, a contested met ``disputed``
    (ADR 0005), a breach within the end unit's measured skew ``indeterminate`` (ADR 0009). Only
    the start: ``running`` then ``breached`` live, or, once ``moved_on`` shows the order went
    past the end, ``incomplete`` (``breached`` if we learnt of it only after the span was
    visibly overdue). No start: ``incomplete``. ``floor`` contests a re-dispatch's CD.
    """
    if start is None:
        return Measure(SegmentStatus.INCOMPLETE, None, None)
    limit = _span(limit_s)
    begun = start.event.occurred_at
    # From this instant on, our own records showed the segment open past its limit.
    overdue_since = max(start.event.recorded_at, begun + limit)
    tolerance = _span(policy.record_gap_tolerance_s)
    if end is not None:
        duration = end.event.occurred_at - begun
        status = judge_duration(duration, limit)
        # Only a conflicting report can contest the finding this way (the usual case: none).
        contests = (
            _alternatives(name, start, end, limit, status)
            if start.conflicting or end.conflicting
            else []
        )
        if floor is not None and end.at < floor[0]:
            contests.extend(_before_floor(name, start, end, floor, limit, status))
        reported = end.event.recorded_at - overdue_since
        if status is SegmentStatus.MET and reported > tolerance:
            contests.insert(0, _reported_when_overdue(name, start, end, overdue_since, readings))
        if contests and status is SegmentStatus.MET:
            status = SegmentStatus.DISPUTED
        skew = None
        if status is SegmentStatus.BREACHED and reported <= tolerance:
            # ADR 0009: only an end that reached us before the span was visibly overdue (beyond
            # the tolerance) may be excused by its unit's clock; one posted late never is.
            skew = ahead_within(name, start, end, duration - limit, readings)
            if skew is not None:
                status = SegmentStatus.INDETERMINATE
        dispute = "; ".join(contests) if contests else None
        return Measure(status, duration, end.event.occurred_at, None, dispute, skew)
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
            return Measure(SegmentStatus.BREACHED, None, moved_on.occurred_at, note=note)
        return Measure(SegmentStatus.INCOMPLETE, None, moved_on.occurred_at)
    elapsed = now - begun
    status = SegmentStatus.RUNNING if elapsed <= limit else SegmentStatus.BREACHED
    return Measure(status, elapsed, now)


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
            would = judge_duration(finish - begin, limit)
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
    would = judge_duration(floor[0] - start.at, limit)
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


def repair_center(readings: Readings, segment: Segment) -> str | None:
    """The repair center the segment's hop led to, which scopes the incidents that count."""
    if segment is Segment.BC:
        issued = event_at(readings, Point.B)
        return issued.payload.repair_center_id if isinstance(issued, WorkOrderIssued) else None
    if segment is Segment.DE:
        dispatch = event_at(readings, Point.D)
        if isinstance(dispatch, WorkOrderDispatched):
            return dispatch.payload.repair_center_id
    return None


def event_at(readings: Readings, point: Point) -> WorkOrderEventT | None:
    """The event that sets ``point``, if any."""
    reading = readings.points.get(point)
    return None if reading is None else reading.event


def co_located(readings: Readings) -> bool | None:
    """Whether the dispatch behind D says the crew shares the repair center's office (DE's
    limit); ``None`` with no dispatch known."""
    dispatch = event_at(readings, Point.D)
    return dispatch.payload.crew_co_located if isinstance(dispatch, WorkOrderDispatched) else None
