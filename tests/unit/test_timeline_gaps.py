"""Hand-computed gaps (ADR 0009): the span across missing points, judged against the sum of the
limits it covers, naming every party that could have lost the time."""

from datetime import timedelta

from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Responsible, Segment, SegmentStatus
from domain.timeline import GapResult, Timeline, compute_timeline
from tests.unit.factories import WO, dispatched, event, incident, minutes, order, recalled, report

RECEIVER, STAFF, NET, RC = (
    Responsible.CREW_RECEIVER,
    Responsible.CREW_REPAIR_STAFF,
    Responsible.NETWORK,
    Responsible.REPAIR_CENTER,
)


def judged(
    events: list[WorkOrderEventT],
    now_minutes: float = 90,
    incidents: list[NetworkIncidentPayload] | None = None,
) -> Timeline:
    return compute_timeline(WO, events, DEFAULT_POLICY, minutes(now_minutes), incidents or [])


def only_gap(t: Timeline) -> GapResult:
    assert len(t.gaps) == 1, t.gaps
    return t.gaps[0]


def test_e_never_sent_the_span_d_to_f_is_judged_against_de_plus_ef() -> None:
    # D at 4, F at 7: 180 s against DE 240 s (remote) + EF 120 s = 360 s.
    t = judged(order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.F: 7, Point.G: 9}))
    gap = only_gap(t)
    assert (gap.start, gap.end, gap.segments, gap.missing) == (
        Point.D,
        Point.F,
        [Segment.DE, Segment.EF],
        [Point.E],
    )
    assert (gap.started_at, gap.ended_at) == (minutes(4), minutes(7))
    assert (gap.duration_s, gap.limit_s, gap.status) == (180.0, 360, SegmentStatus.MET)
    assert gap.responsible_candidates == [RECEIVER, RECEIVER]
    assert "E was never reported" in gap.evidence
    assert "network healthy on repair_center_to_crew" in gap.evidence
    assert gap.dispute is None
    assert gap.skew is None
    # Every existing field and behaviour is kept: DE and EF are incomplete, E is missing.
    de, ef = t.segments[Segment.DE.position], t.segments[Segment.EF.position]
    assert (de.status, ef.status) == (SegmentStatus.INCOMPLETE, SegmentStatus.INCOMPLETE)
    assert ("missing_point", Point.E) in [(a.code, a.point) for a in t.anomalies]


def test_a_gap_over_the_sum_of_its_limits_is_breached() -> None:
    # D at 4, F at 12: 480 s > 360 s.
    t = judged(order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.F: 12}))
    gap = only_gap(t)
    assert (gap.duration_s, gap.limit_s, gap.status) == (480.0, 360, SegmentStatus.BREACHED)
    assert "D to F took 480 s against the sum of the limits of DE, EF" in gap.evidence
    assert "DE 240 s + EF 120 s = 360 s" in gap.evidence


def test_de_limit_in_the_sum_follows_co_location() -> None:
    # Co-located crew: DE 120 s + EF 120 s = 240 s; D at 4, F at 9 is 300 s.
    points = {Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.F: 9}
    gap = only_gap(judged(order(points, co_located=True)))
    assert (gap.limit_s, gap.duration_s, gap.status) == (240, 300.0, SegmentStatus.BREACHED)


def test_a_network_incident_during_the_span_makes_the_network_a_candidate_for_de() -> None:
    events = order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.F: 12})
    down = incident(Link.REPAIR_CENTER_TO_CREW, minutes(8), minutes(9), incident_id="inc-7")
    gap = only_gap(judged(events, incidents=[down]))
    assert gap.responsible_candidates == [NET, RECEIVER]
    assert "network incident inc-7 on repair_center_to_crew" in gap.evidence


def test_two_missing_points_in_a_row_span_three_segments() -> None:
    # E and F missing: D at 4 to G at 14 is 600 s against 240 + 120 + 180 = 540 s.
    gap = only_gap(judged(order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.G: 14})))
    assert gap.segments == [Segment.DE, Segment.EF, Segment.FG]
    assert (gap.missing, gap.limit_s, gap.duration_s) == ([Point.E, Point.F], 540, 600.0)
    assert gap.status is SegmentStatus.BREACHED
    assert gap.responsible_candidates == [RECEIVER, RECEIVER, STAFF]


def test_each_run_of_missing_points_is_its_own_gap_and_a_to_h_stays_as_it_is() -> None:
    # B missing (A to C: 120 + 240 = 360 s, took 180 s) and E missing (D to F).
    points = {Point.A: 0, Point.C: 3, Point.D: 4, Point.F: 7, Point.G: 9, Point.H: 30}
    t = judged(order(points))
    assert [(g.start, g.end, g.status) for g in t.gaps] == [
        (Point.A, Point.C, SegmentStatus.MET),
        (Point.D, Point.F, SegmentStatus.MET),
    ]
    assert t.gaps[0].responsible_candidates == [Responsible.CUSTOMER_SERVICE_CENTER, RC]
    assert (t.total.status, t.total.duration_s) == (SegmentStatus.MET, 1800.0)


def test_no_gap_while_nothing_after_the_missing_point_has_come() -> None:
    t = judged(order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4}), now_minutes=6)
    assert t.gaps == []
    assert t.segments[Segment.DE.position].status is SegmentStatus.RUNNING


def test_a_complete_order_has_no_gap() -> None:
    points = {Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.E: 6, Point.F: 7}
    assert judged(order(points)).gaps == []


def test_reports_overtaking_each_other_by_seconds_are_no_gap() -> None:
    # The unit's E reached us 30 s after its F (within the 60 s tolerance): no gap.
    events = [
        *order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4}),
        event(Point.E, minutes(6), recorded=minutes(7.5)),
        event(Point.F, minutes(7), recorded=minutes(7)),
    ]
    assert judged(events).gaps == []


def test_the_missing_point_posted_afterwards_does_not_dissolve_the_gap() -> None:
    # D at 4, F at 12 (recorded at 12:05): D to F breached. E comes in at 20, stamped at 7.
    before = order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.F: 12})
    late_e = event(Point.E, minutes(7), recorded=minutes(20))
    was, now = only_gap(judged(before, 15)), only_gap(judged([*before, late_e], 25))
    assert (now.start, now.end, now.status) == (was.start, was.end, SegmentStatus.BREACHED)
    assert "E was reported only at 2026-11-02T08:20:00Z" in now.evidence
    # And the two segments are judged on their own again, as ADR 0005 says: DE by when E came
    # in (it is recorded long after DE was overdue), EF on its stamps.
    t = judged([*before, late_e], 25)
    de, ef = t.segments[Segment.DE.position], t.segments[Segment.EF.position]
    assert (de.status, ef.status) == (SegmentStatus.DISPUTED, SegmentStatus.BREACHED)


def test_a_negative_span_is_invalid() -> None:
    # F stamped before D (a unit clock far behind): the span is negative.
    events = [
        *order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4}),
        event(Point.F, minutes(2), recorded=minutes(6)),
    ]
    gap = only_gap(judged(events))
    assert (gap.duration_s, gap.status) == (-120.0, SegmentStatus.INVALID)


def test_a_span_ended_within_its_limits_but_recorded_long_after_is_disputed() -> None:
    # F stamped at 7 (met by the stamps) but recorded at 30, long after D to F (360 s) was
    # visibly overdue at 10: disputed, never met (ADR 0005 rule b).
    events = [
        *order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4}),
        event(Point.F, minutes(7), recorded=minutes(30)),
    ]
    gap = only_gap(judged(events))
    assert gap.status is SegmentStatus.DISPUTED
    assert gap.dispute is not None
    assert "overdue by our records" in gap.dispute


def test_a_recalled_attempt_keeps_its_own_gap() -> None:
    # Attempt 1 reached F without E and was recalled; attempt 2 reported everything.
    head = order({Point.A: 0, Point.B: 1, Point.C: 3})
    first = dispatched(minutes(4), vehicle="veh-1")
    second = dispatched(minutes(15), vehicle="veh-2")
    events = [
        *head,
        first,
        report(Point.F, first, minutes(12)),
        recalled(first, minutes(13)),
        second,
        report(Point.E, second, minutes(16)),
        report(Point.F, second, minutes(17)),
    ]
    t = judged(events)
    assert t.gaps == []
    old = t.attempts[0]
    assert [(g.start, g.end, g.status) for g in old.gaps] == [
        (Point.D, Point.F, SegmentStatus.BREACHED)
    ]
    assert t.attempts[1].gaps == []


def test_gaps_do_not_depend_on_input_order() -> None:
    events = order({Point.A: 0, Point.C: 3, Point.D: 4, Point.F: 12, Point.H: 40})
    forward, backward = judged(events), judged(list(reversed(events)))
    assert forward.gaps == backward.gaps
    assert len(forward.gaps) == 3
    assert timedelta(seconds=forward.gaps[-1].duration_s) == minutes(40) - minutes(12)
