"""What is wrong with the reports behind a timeline, said in words a supervisor can check."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from contracts.envelope import WorkOrderEvent
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, Segment, SegmentStatus
from domain.timeline._format import at, seconds
from domain.timeline.letters import BEFORE, INTO, POINTS
from domain.timeline.model import Anomaly, AnomalyCode, AttemptResult
from domain.timeline.points import Readings, point_of


def event_anomalies(readings: Readings, policy: Policy, now: datetime) -> list[Anomaly]:
    """Clock and delivery trouble of single events: clock ahead, reported late, after now."""
    tolerance = timedelta(seconds=policy.clock_ahead_tolerance_s)
    late = timedelta(seconds=policy.late_report_s)
    found: list[Anomaly] = []
    for event in readings.events:
        ahead = event.occurred_at - event.recorded_at
        if not (ahead > tolerance or -ahead > late or event.occurred_at > now):
            continue  # the usual case: nothing to say, so nothing to spell
        point = point_of(event)
        what = _describe(event)
        if ahead > tolerance:
            found.append(
                _anomaly(
                    AnomalyCode.CLOCK_AHEAD,
                    point,
                    f"{what} occurred at {at(event.occurred_at)}, {seconds(ahead)} after we "
                    f"recorded it at {at(event.recorded_at)}: the source's clock runs ahead "
                    f"(tolerance {policy.clock_ahead_tolerance_s} s)",
                    [event],
                )
            )
        if -ahead > late:
            found.append(
                _anomaly(
                    AnomalyCode.REPORTED_LATE,
                    point,
                    f"{what} occurred at {at(event.occurred_at)} but was recorded at "
                    f"{at(event.recorded_at)}, {seconds(-ahead)} later "
                    f"(late after {policy.late_report_s} s)",
                    [event],
                )
            )
        if event.occurred_at > now:
            found.append(
                _anomaly(
                    AnomalyCode.EVENT_AFTER_NOW,
                    point,
                    f"{what} occurred at {at(event.occurred_at)}, after the as-of instant "
                    f"{at(now)}",
                    [event],
                )
            )
    return found


def point_anomalies(readings: Readings) -> list[Anomaly]:
    """Trouble with the points themselves: reported twice, missing, or out of letter order."""
    found: list[Anomaly] = []
    latest: datetime | None = None  # the latest stamp of the points so far, in letter order
    for point in POINTS:
        reading = readings.points.get(point)
        if reading is None:
            successor = readings.moved_on(point)
            if successor is not None:
                found.append(
                    _anomaly(
                        AnomalyCode.MISSING_POINT,
                        point,
                        f"{point} was never recorded, yet the order moved on: "
                        f"{_describe(successor)} at {at(successor.occurred_at)}; the segments "
                        f"around {point} cannot be judged",
                        [successor],
                    )
                )
            continue
        if reading.duplicates:
            reports = [reading.event, *reading.duplicates]
            listed = ", ".join(f"event {e.event_id}" for e in reports)
            found.append(
                _anomaly(
                    AnomalyCode.DUPLICATE_POINT,
                    point,
                    f"{point} reported {len(reports)} times with the same stamp "
                    f"{at(reading.at)}: {listed}",
                    reports,
                )
            )
        for later in reading.conflicting:
            found.append(
                _anomaly(
                    AnomalyCode.CONFLICTING_POINT,
                    point,
                    f"{point} was first reported as {at(reading.at)} (event "
                    f"{reading.event.event_id}, recorded {at(reading.event.recorded_at)}); a later "
                    f"report says {at(later.occurred_at)} (event {later.event_id}, recorded "
                    f"{at(later.recorded_at)}). The first recorded report stands: a later one "
                    f"never moves a point",
                    [reading.event, later],
                )
            )
        stamp = reading.at
        # Only a point stamped before the latest of those before it has any to name.
        clash = latest is not None and latest > stamp
        if latest is None or stamp > latest:
            latest = stamp
        if not clash:
            continue
        earlier = [
            readings.points[before]
            for before in BEFORE[point]
            if before in readings.points and readings.points[before].at > stamp
        ]
        if earlier:
            into = INTO[point]
            # Named only when the clash is inside one segment, whose duration is then negative.
            segment = into if earlier[-1].point is into.start else None
            listed = ", ".join(f"{e.point} at {at(e.at)}" for e in earlier)
            tail = (
                f"; {segment} measures {seconds(reading.at - earlier[-1].at)}"
                if segment is not None
                else ""
            )
            found.append(
                _anomaly(
                    AnomalyCode.OUT_OF_ORDER,
                    point,
                    f"{point} at {at(reading.at)} is earlier, by the source clocks, than "
                    f"{listed}{tail}",
                    [*(e.event for e in earlier), reading.event],
                    segment=segment,
                )
            )
    return found


def attempt_anomalies(readings: Readings, attempts: Iterable[AttemptResult]) -> list[Anomaly]:
    """Each recalled attempt, with what it reached and what it breached (its reports set no
    point of the timeline), and each recall that withdrew nothing."""
    found: list[Anomaly] = []
    results = list(attempts)
    for attempt, result in zip(readings.attempts.attempts, results, strict=True):
        recall = attempt.recall
        if recall is None:
            continue
        own = readings.of_attempt(attempt)
        reached = [
            f"{point} at {at(own.points[point].at)}"
            for point in (Point.E, Point.F, Point.G, Point.H)
            if point in own.points
        ]
        if own.fault_cleared is not None:
            reached.append(f"the fault cleared at {at(own.fault_cleared.occurred_at)}")
        breached = [
            f"{s.segment} ({s.responsible}): {s.evidence}"
            for s in result.segments
            if s.status is SegmentStatus.BREACHED
        ]
        following = next((r for r in results if r.number == result.number + 1), None)
        then = (
            f"the order was dispatched again as attempt {following.number} (event "
            f"{following.dispatch_event_id}) at {at(following.dispatched_at)}"
            if following is not None
            else "the order has not been dispatched again since, so CD runs again from C"
        )
        found.append(
            _anomaly(
                AnomalyCode.RECALLED_ATTEMPT,
                Point.D,
                f"attempt {result.number}, dispatch {result.dispatch_event_id} to vehicle "
                f"{result.vehicle_id} (crew {result.crew_id}) at {at(result.dispatched_at)}, was "
                f"recalled at {at(recall.occurred_at)} (event {recall.event_id}, recorded "
                f"{at(recall.recorded_at)}) at the request of {recall.payload.requested_by}: "
                f"{recall.payload.reason}. Its reports reached "
                f"{', '.join(reached) or 'no point'}; "
                f"breached on it: {'; '.join(breached) or 'nothing'}. They set no point of the "
                f"timeline: {then}; the time lost counts in CD (repair center)",
                [
                    attempt.dispatch,
                    recall,
                    *(
                        own.points[p].event
                        for p in (Point.E, Point.F, Point.G, Point.H)
                        if p in own.points
                    ),
                    *([] if own.fault_cleared is None else [own.fault_cleared]),
                ],
            )
        )
    for orphan in readings.attempts.orphans:
        found.append(
            _anomaly(
                AnomalyCode.UNATTRIBUTED_REPORT,
                point_of(orphan),
                f"{_describe(orphan)} from {orphan.source} names as its cause event "
                f"{orphan.causation_id}, which is no dispatch we know of: it sets no point",
                [orphan],
            )
        )
    for ignored in readings.attempts.ignored:
        recall = ignored.recall
        found.append(
            _anomaly(
                AnomalyCode.IGNORED_RECALL,
                Point.D,
                f"recall event {recall.event_id} (stamped {at(recall.occurred_at)}, recorded "
                f"{at(recall.recorded_at)}, at the request of {recall.payload.requested_by}) "
                f"withdrew nothing: {ignored.why}",
                [recall],
            )
        )
    return found


def in_order(anomalies: Iterable[Anomaly]) -> list[Anomaly]:
    """Point (or segment) order first, then code, then the events named."""

    def key(anomaly: Anomaly) -> tuple[int, str, tuple[str, ...], str]:
        if anomaly.point is not None:
            place = 2 * anomaly.point.position
        elif anomaly.segment is not None:
            place = 2 * anomaly.segment.start.position + 1
        else:
            place = 2 * len(POINTS)  # the fault cleared, after every point
        return (place, anomaly.code.value, tuple(map(str, anomaly.event_ids)), anomaly.message)

    return sorted(anomalies, key=key)


def _describe(event: WorkOrderEventT) -> str:
    point = point_of(event)
    marks = "" if point is None else f", point {point}"
    return f"event {event.event_id} ({event.event_type}{marks})"


def _anomaly(
    code: AnomalyCode,
    point: Point | None,
    message: str,
    events: Iterable[WorkOrderEvent],
    segment: Segment | None = None,
) -> Anomaly:
    return Anomaly.model_construct(
        code=code,
        point=point,
        segment=segment,
        message=message,
        event_ids=[e.event_id for e in events],
    )
