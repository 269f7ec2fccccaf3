"""Findings nobody can bend (ADR 0005), hand-computed: which report sets a point, and when a
finding is ``invalid`` or ``disputed`` instead of ``met``.

Every event is recorded 5 s after its stamp unless the case says otherwise; the crew's unit
posts E to H as ``gps-unit:veh-12``.
"""

from datetime import timedelta

from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Responsible, Segment, SegmentStatus
from domain.timeline import AnomalyCode, SegmentResult, Timeline, compute_timeline
from tests.unit.factories import WO, event, minutes, order

MET, BREACHED, RUNNING, INCOMPLETE, INVALID, DISPUTED = (
    SegmentStatus.MET,
    SegmentStatus.BREACHED,
    SegmentStatus.RUNNING,
    SegmentStatus.INCOMPLETE,
    SegmentStatus.INVALID,
    SegmentStatus.DISPUTED,
)
RECEIVER = Responsible.CREW_RECEIVER
STAFF = Responsible.CREW_REPAIR_STAFF

ON_TIME: dict[Point, float] = {
    Point.A: 0,
    Point.B: 1,
    Point.C: 3,
    Point.D: 4,
    Point.E: 6,
    Point.F: 7,
    Point.G: 9,
    Point.H: 30,
}


def up_to(last: Point) -> dict[Point, float]:
    return {p: m for p, m in ON_TIME.items() if p <= last}


def timeline(events: list[WorkOrderEventT], now_minutes: float = 90) -> Timeline:
    return compute_timeline(WO, events, DEFAULT_POLICY, minutes(now_minutes))


def seg(t: Timeline, segment: Segment) -> SegmentResult:
    return t.segments[segment.position]


def statuses(t: Timeline) -> list[SegmentStatus]:
    return [s.status for s in t.segments]


def codes(t: Timeline) -> list[tuple[AnomalyCode, Point | None]]:
    return [(a.code, a.point) for a in t.anomalies]


# -- The first recorded report stands -------------------------------------------------------------


def test_a_crew_cannot_post_its_late_arrival_away() -> None:
    # The case: H 50 minutes after the call; then a second `arrived`, with a new report
    # id, stamped at 30 minutes and posted at 55.
    events = order({**ON_TIME, Point.H: 50})
    second = event(Point.H, minutes(30), recorded=minutes(55), report_id="arrived-again")
    t = timeline([*events, second])

    assert t.points[Point.H] == minutes(50)
    gh = seg(t, Segment.GH)
    assert (gh.duration_s, gh.status, gh.responsible) == (41 * 60, BREACHED, STAFF)
    assert statuses(t) == [MET] * 6 + [BREACHED]
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (50 * 60, BREACHED, [STAFF])

    assert codes(t) == [
        (AnomalyCode.CONFLICTING_POINT, Point.H),
        (AnomalyCode.REPORTED_LATE, Point.H),  # stamped 25 minutes before it was posted
    ]
    conflict = t.anomalies[0]
    assert conflict.event_ids == [events[7].event_id, second.event_id]
    for both_clocks in (
        "first reported as 2026-11-02T08:50:00Z",
        "recorded 2026-11-02T08:50:05Z",
        "a later report says 2026-11-02T08:30:00Z",
        "recorded 2026-11-02T08:55:00Z",
        "The first recorded report stands",
    ):
        assert both_clocks in conflict.message

    # The finding stands, and says it is contested, by which report and with what outcome.
    for dispute in (gh.dispute or "", t.total.dispute or ""):
        assert f"a later report puts H at 2026-11-02T08:30:00Z (event {second.event_id}" in dispute
        assert "recorded 2026-11-02T08:55:00Z" in dispute
        assert "would be met, not breached" in dispute
        assert (
            f"the first recorded report stands: H at 2026-11-02T08:50:00Z (event "
            f"{events[7].event_id}, recorded 2026-11-02T08:50:05Z)"
        ) in dispute
    assert all(s.dispute is None for s in t.segments[:6])


def test_a_conflicting_report_that_changes_no_outcome_is_only_an_anomaly() -> None:
    events = order({**ON_TIME, Point.H: 31})
    later = event(Point.H, minutes(30), recorded=minutes(32))  # earlier stamp, recorded later
    t = timeline([*events, later])

    assert t.points[Point.H] == minutes(31)
    gh = seg(t, Segment.GH)
    assert (gh.duration_s, gh.status, gh.dispute) == (22 * 60, MET, None)
    assert (t.total.status, t.total.dispute) == (MET, None)
    assert codes(t) == [(AnomalyCode.CONFLICTING_POINT, Point.H)]
    assert t.anomalies[0].event_ids == [events[7].event_id, later.event_id]


def test_breached_or_invalid_alike_is_no_contest() -> None:
    # H at 50 (GH breached); a later H stamped at 8, before G: GH would be invalid, still not met.
    events = order({**ON_TIME, Point.H: 50})
    t = timeline([*events, event(Point.H, minutes(8), recorded=minutes(51))])

    assert (seg(t, Segment.GH).status, seg(t, Segment.GH).dispute) == (BREACHED, None)
    # A to H, though, would be met (8 minutes) under the later report: that is contested.
    assert t.total.status is BREACHED
    assert "would be met, not breached" in (t.total.dispute or "")


def test_a_conflicting_report_contests_both_segments_around_its_point() -> None:
    # FG took 4 minutes (breached). The unit posts another acceptance (F) stamped 2 minutes
    # later: FG would be met by it, and EF breached.
    events = order({**ON_TIME, Point.G: 11})
    again = event(Point.F, minutes(9), recorded=minutes(12), report_id="accept-again")
    t = timeline([*events, again])

    assert t.points[Point.F] == minutes(7)
    ef, fg = seg(t, Segment.EF), seg(t, Segment.FG)
    assert (ef.duration_s, ef.status, ef.responsible) == (60, DISPUTED, RECEIVER)
    assert "under which EF would be breached, not met" in (ef.dispute or "")
    assert (fg.duration_s, fg.status, fg.responsible) == (240, BREACHED, STAFF)
    assert "under which FG would be met, not breached" in (fg.dispute or "")
    assert "240 s" in (fg.evidence or "")
    assert statuses(t) == [MET, MET, MET, MET, DISPUTED, BREACHED, MET]
    assert codes(t) == [(AnomalyCode.CONFLICTING_POINT, Point.F)]


def test_the_same_report_id_with_another_stamp_is_not_a_retry() -> None:
    events = order(up_to(Point.G))
    arrived = event(Point.H, minutes(50), report_id="arrive-1")
    retry = event(Point.H, minutes(50), recorded=minutes(52), report_id="arrive-1")
    restamped = event(Point.H, minutes(30), recorded=minutes(53), report_id="arrive-1")

    t = timeline([*events, arrived, retry, restamped])
    assert t.points[Point.H] == minutes(50)
    assert seg(t, Segment.GH).status is BREACHED
    # The true retry is silent; the restamped one conflicts.
    assert codes(t) == [
        (AnomalyCode.CONFLICTING_POINT, Point.H),
        (AnomalyCode.REPORTED_LATE, Point.H),
    ]
    assert t.anomalies[0].event_ids == [arrived.event_id, restamped.event_id]


def test_reports_recorded_at_the_same_instant_pick_one_whatever_the_input_order() -> None:
    events = order(up_to(Point.G))
    late = event(Point.H, minutes(31), recorded=minutes(32))
    early = event(Point.H, minutes(30), recorded=minutes(32))

    t = timeline([*events, late, early])
    assert t == timeline([early, *reversed(events), late])
    assert t.points[Point.H] == minutes(30)  # same record: the stamp breaks the tie
    assert t.anomalies[0].event_ids == [early.event_id, late.event_id]


# -- Invalid: a negative segment --------------------------------------------------------------


def test_f_stamped_before_e_is_invalid_never_met() -> None:
    events = order({**ON_TIME, Point.F: 5.5, Point.G: 8})
    e, f = events[4], events[5]
    t = timeline(events)

    ef = seg(t, Segment.EF)
    assert (ef.duration_s, ef.status, ef.responsible) == (-30, INVALID, RECEIVER)
    assert ef.evidence == (
        f"EF measures -30 s: F is stamped 2026-11-02T08:05:30Z (event {f.event_id}), before E "
        f"at 2026-11-02T08:06:00Z (event {e.event_id}); a negative segment cannot be judged met"
    )
    assert ef.dispute is None
    assert statuses(t) == [MET, MET, MET, MET, INVALID, MET, MET]
    assert (t.total.status, t.total.responsible) == (MET, [])
    assert codes(t) == [(AnomalyCode.OUT_OF_ORDER, Point.F)]
    assert t.anomalies[0].segment is Segment.EF

    # A later F stamped after E would make EF met: contested, still invalid.
    fixed = event(Point.F, minutes(7), recorded=minutes(20), report_id="accept-again")
    again = seg(timeline([*events, fixed]), Segment.EF)
    assert (again.status, again.duration_s) == (INVALID, -30)
    assert "under which EF would be met, not invalid" in (again.dispute or "")


def test_h_stamped_before_a_makes_a_to_h_invalid() -> None:
    events = order({**ON_TIME, Point.H: -1})
    t = timeline(events)

    assert (t.total.duration_s, t.total.status, t.total.responsible) == (-60, INVALID, [])
    assert t.total.dispute is None
    assert (seg(t, Segment.GH).duration_s, seg(t, Segment.GH).status) == (-600, INVALID)
    assert statuses(t) == [MET] * 6 + [INVALID]
    assert codes(t) == [(AnomalyCode.OUT_OF_ORDER, Point.H)]


# -- Disputed: an end reported only once the segment was visibly overdue ----------------------


def test_an_end_posted_after_a_live_breach_with_an_early_stamp_is_disputed() -> None:
    events = order(up_to(Point.F))  # F at 7, recorded 7:05; FG's limit (3 min) passes at 10
    live = seg(timeline(events, now_minutes=20), Segment.FG)
    assert (live.status, live.duration_s, live.responsible) == (BREACHED, 13 * 60, STAFF)

    # At 20 minutes the unit posts G stamped at 9: within FG's 3 minutes by its stamp.
    departed = event(Point.G, minutes(9), recorded=minutes(20))
    t = timeline([*events, departed], now_minutes=21)

    fg = seg(t, Segment.FG)
    assert (fg.duration_s, fg.status, fg.responsible) == (120, DISPUTED, STAFF)
    assert fg.dispute == (
        f"G (event {departed.event_id}) is stamped 2026-11-02T08:09:00Z, within the limit after F "
        f"at 2026-11-02T08:07:00Z (event {events[5].event_id}, recorded 2026-11-02T08:07:05Z), "
        f"but was recorded only at 2026-11-02T08:20:00Z, 600 s after FG had been overdue by our "
        f"records (since 2026-11-02T08:10:00Z); judged by when we recorded it, FG would be "
        f"breached; gps-unit:veh-12's 3 report(s) on this order reached us 5 s to 660 s after "
        f"their stamps"
    )
    assert statuses(t) == [MET, MET, MET, MET, MET, DISPUTED, RUNNING]
    assert t.total.status is RUNNING


def test_the_record_gap_tolerance_is_inclusive() -> None:
    events = order(up_to(Point.F))  # FG overdue by our records from 10:00
    tolerance = timedelta(seconds=DEFAULT_POLICY.record_gap_tolerance_s)
    just_in = event(Point.G, minutes(9), recorded=minutes(10) + tolerance)
    just_out = event(
        Point.G, minutes(9), recorded=minutes(10) + tolerance + timedelta(microseconds=1)
    )

    assert seg(timeline([*events, just_in]), Segment.FG).status is MET
    assert seg(timeline([*events, just_out]), Segment.FG).status is DISPUTED


def test_the_overdue_clock_starts_no_earlier_than_we_knew_the_start() -> None:
    # F reached us only at 12 (stamped 7): FG looked overdue from 12, not from 10.
    events = [*order(up_to(Point.E)), event(Point.F, minutes(7), recorded=minutes(12))]
    in_time = event(Point.G, minutes(9), recorded=minutes(13))
    assert seg(timeline([*events, in_time]), Segment.FG).status is MET
    too_late = event(Point.G, minutes(9), recorded=minutes(13.1))
    fg = seg(timeline([*events, too_late]), Segment.FG)
    assert fg.status is DISPUTED
    assert "66 s after FG had been overdue by our records (since 2026-11-02T08:12:00Z)" in (
        fg.dispute or ""
    )


def test_an_arrival_posted_after_the_promise_broke_live_is_disputed() -> None:
    events = order(up_to(Point.G))
    live = timeline(events, now_minutes=50)
    assert (live.total.status, seg(live, Segment.GH).status) == (BREACHED, BREACHED)

    arrived = event(Point.H, minutes(30), recorded=minutes(60))
    t = timeline([*events, arrived], now_minutes=61)
    gh = seg(t, Segment.GH)
    assert (gh.duration_s, gh.status) == (21 * 60, DISPUTED)
    assert "1380 s after GH had been overdue by our records (since 2026-11-02T08:37:00Z)" in (
        gh.dispute or ""
    )
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (30 * 60, DISPUTED, [])
    assert "900 s after A to H had been overdue by our records" in (t.total.dispute or "")
    assert "A to H would be breached" in (t.total.dispute or "")


def test_a_disputed_segment_is_not_named_among_the_breaches() -> None:
    # EF's end (F) reached us 4 minutes after EF showed overdue; GH breached on the stamps.
    events = [
        *order(up_to(Point.E)),
        event(Point.F, minutes(7), recorded=minutes(12)),
        *order({Point.G: 9, Point.H: 50}),
    ]
    t = timeline(events)
    assert statuses(t) == [MET, MET, MET, MET, DISPUTED, MET, BREACHED]
    assert (t.total.status, t.total.responsible) == (BREACHED, [STAFF])


def test_a_history_recorded_all_at_once_is_judged_by_its_stamps() -> None:
    # A scripted history (a replay, a seed, a unit that was offline throughout) posted an hour
    # after the fact, every report within seconds of the others: nothing was visibly overdue
    # before its end arrived, so nothing is disputed.
    # BC (5 min) and GH (39 min) breached on the stamps.
    at = {**ON_TIME, Point.C: 6, Point.D: 7, Point.E: 8, Point.F: 9, Point.G: 11, Point.H: 50}
    posted = [
        event(point, minutes(m), recorded=minutes(120) + timedelta(seconds=5 * n))
        for n, (point, m) in enumerate(sorted(at.items()))
    ]
    t = timeline(posted, now_minutes=121)
    live = timeline(order(at))

    assert statuses(t) == statuses(live) == [MET, BREACHED, MET, MET, MET, MET, BREACHED]
    assert [s.dispute for s in t.segments] == [None] * 7
    assert (t.total.status, t.total.dispute) == (BREACHED, None)
    assert t.total.responsible == [Responsible.REPAIR_CENTER, STAFF]
    assert [s.model_copy(update={"evidence": None}) for s in t.segments] == [
        s.model_copy(update={"evidence": None}) for s in live.segments
    ]
    assert {a.code for a in t.anomalies} == {AnomalyCode.REPORTED_LATE}


# -- Moving on is no escape --------------------------------------------------------------------


def test_an_order_that_moved_on_after_a_live_breach_stays_breached() -> None:
    events = order(up_to(Point.F))
    arrived = event(Point.H, minutes(25), recorded=minutes(26))  # no G ever; H at 25
    t = timeline([*events, arrived])

    fg = seg(t, Segment.FG)
    assert (fg.status, fg.responsible, fg.duration_s, fg.end) == (BREACHED, STAFF, None, None)
    assert fg.evidence == (
        f"FG had been overdue by our records since 2026-11-02T08:10:00Z when the order moved on "
        f"without G (event {arrived.event_id}, CrewArrived, recorded 2026-11-02T08:26:00Z, "
        f"960 s later)"
    )
    assert seg(t, Segment.GH).status is INCOMPLETE  # no start
    assert codes(t) == [(AnomalyCode.MISSING_POINT, Point.G)]


def test_an_order_that_moved_on_in_time_leaves_the_segment_unjudged() -> None:
    events = order(up_to(Point.F))
    arrived = event(Point.H, minutes(8))  # recorded 8:05, before FG was overdue
    fg = seg(timeline([*events, arrived]), Segment.FG)
    assert (fg.status, fg.responsible, fg.evidence) == (INCOMPLETE, STAFF, None)


def test_the_order_moved_on_when_we_first_learnt_of_a_later_point() -> None:
    # F never came. H reached us at 7:35 (before EF showed overdue at 8:00), G only at 30.
    events = [
        *order(up_to(Point.E)),
        event(Point.G, minutes(7), recorded=minutes(30)),
        event(Point.H, minutes(7.5), recorded=minutes(7.5) + timedelta(seconds=5)),
    ]
    assert seg(timeline(events), Segment.EF).status is INCOMPLETE
    # Had H come late too, EF would be breached: the first later report we recorded decides.
    late = [*events[:-1], event(Point.H, minutes(7.5), recorded=minutes(31))]
    assert seg(timeline(late), Segment.EF).status is BREACHED
