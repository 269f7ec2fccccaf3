"""Recall and re-dispatch (rule 4), hand-computed: D to H follow the attempt that reached the site,
the earlier attempts stay in ``attempts`` and the anomalies, and the time lost counts in CD."""

from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Responsible, Segment, SegmentStatus
from domain.timeline import AnomalyCode, SegmentResult, Timeline, compute_timeline
from services.timeline.picture import render_svg
from tests.unit.factories import (
    WO,
    blocked,
    closed,
    dispatched,
    event,
    minutes,
    order,
    recalled,
    report,
)

MET, BREACHED, RUNNING, INCOMPLETE, DISPUTED = (
    SegmentStatus.MET,
    SegmentStatus.BREACHED,
    SegmentStatus.RUNNING,
    SegmentStatus.INCOMPLETE,
    SegmentStatus.DISPUTED,
)
CSC = Responsible.CUSTOMER_SERVICE_CENTER
RC = Responsible.REPAIR_CENTER
RECEIVER = Responsible.CREW_RECEIVER
STAFF = Responsible.CREW_REPAIR_STAFF
E, F, G, H = Point.E, Point.F, Point.G, Point.H


def timeline(events: list[WorkOrderEventT], now_minutes: float = 90) -> Timeline:
    return compute_timeline(WO, events, DEFAULT_POLICY, minutes(now_minutes))


def seg(t: Timeline, segment: Segment) -> SegmentResult:
    return t.segments[segment.position]


def summary(segments: list[SegmentResult]) -> list[tuple[str, SegmentStatus, float | None]]:
    return [(s.segment, s.status, s.duration_s) for s in segments]


def codes(t: Timeline) -> list[tuple[AnomalyCode, Point | None]]:
    return [(a.code, a.point) for a in t.anomalies]


def opening() -> list[WorkOrderEventT]:
    """A at 0, B at 1, C at 3: on time up to the repair center."""
    return order({Point.A: 0, Point.B: 1, Point.C: 3})


def test_the_timeline_follows_the_attempt_that_reached_the_site() -> None:
    first = dispatched(minutes(4), vehicle="veh-12", crew="crew-3")
    withdrawn = recalled(
        first,
        minutes(7),
        reason="a 10 kV fault: the emergency team's",
        requested_by="gps-unit:veh-12",
    )
    second = dispatched(minutes(8), vehicle="veh-40", crew="crew-9")
    events = [
        *opening(),
        first,
        report(E, first, minutes(5)),
        withdrawn,
        second,
        report(E, second, minutes(9)),
        report(F, second, minutes(10)),
        report(G, second, minutes(12)),
        report(H, second, minutes(35)),
    ]
    t = timeline(events)

    assert t.points == {
        Point.A: minutes(0),
        Point.B: minutes(1),
        Point.C: minutes(3),
        Point.D: minutes(8),
        E: minutes(9),
        F: minutes(10),
        G: minutes(12),
        H: minutes(35),
    }
    # C to the second dispatch: 5 min, all of it the repair center's, the first attempt included.
    assert summary(t.segments) == [
        ("AB", MET, 60),
        ("BC", MET, 120),
        ("CD", BREACHED, 300),
        ("DE", MET, 60),
        ("EF", MET, 60),
        ("FG", MET, 120),
        ("GH", MET, 1380),
    ]
    assert seg(t, Segment.CD).responsible is RC
    assert str(second.event_id) in (seg(t, Segment.CD).evidence or "")
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (2100, MET, [])
    # The first vehicle's E does not conflict with the second's: it is another attempt.
    assert codes(t) == [(AnomalyCode.RECALLED_ATTEMPT, Point.D)]
    recall_note = t.anomalies[0]
    assert recall_note.event_ids == [first.event_id, withdrawn.event_id, events[4].event_id]
    for words in ("veh-12", "gps-unit:veh-12", "a 10 kV fault", "E at 2026-11-02T08:05:00Z"):
        assert words in recall_note.message
    assert f"attempt 2 (event {second.event_id})" in recall_note.message

    one, two = t.attempts
    assert (one.number, one.dispatch_event_id, one.vehicle_id, one.crew_id) == (
        1,
        first.event_id,
        "veh-12",
        "crew-3",
    )
    assert (one.dispatched_at, one.recalled_at, one.recall_event_id) == (
        minutes(4),
        minutes(7),
        withdrawn.event_id,
    )
    assert (one.recall_reason, one.requested_by, one.current) == (
        "a 10 kV fault: the emergency team's",
        "gps-unit:veh-12",
        False,
    )
    assert one.points == {Point.D: minutes(4), E: minutes(5), F: None, G: None, H: None}
    # EF was open when recalled, 2 min after E: recorded within the tolerance, so not judged.
    assert summary(one.segments) == [
        ("DE", MET, 60),
        ("EF", INCOMPLETE, None),
        ("FG", INCOMPLETE, None),
        ("GH", INCOMPLETE, None),
    ]
    assert [s.responsible for s in one.segments] == [RECEIVER, RECEIVER, None, None]
    assert (two.number, two.vehicle_id, two.current, two.recalled_at) == (2, "veh-40", True, None)
    assert two.points == {p: t.points[p] for p in (Point.D, E, F, G, H)}
    assert two.segments == t.segments[Segment.DE.position :]


def test_a_breach_on_a_recalled_attempt_stays_against_its_party() -> None:
    """DE breached on attempt 1 at minute 10; the recall and the re-dispatch do not erase it."""
    first = dispatched(minutes(4))
    withdrawn = recalled(first, minutes(11))  # recorded 11:05
    second = dispatched(minutes(12), vehicle="veh-40", crew="crew-9")
    later = [
        withdrawn,
        second,
        *(report(p, second, minutes(m)) for p, m in ((E, 13), (F, 14), (G, 15), (H, 30))),
    ]
    events = [*opening(), first, *later]

    # At minute 10: DE has been open 6 min against 4, the crew receiver's (network healthy).
    live = timeline(events, 10)
    assert (seg(live, Segment.DE).status, seg(live, Segment.DE).responsible) == (BREACHED, RECEIVER)
    assert seg(live, Segment.DE).duration_s == 360
    assert [a.current for a in live.attempts] == [True]
    assert live.attempts[0].segments[0] == seg(live, Segment.DE)

    # Stamped 11:00 but recorded 11:05: at 11:02 the recall is not known yet and changes nothing.
    assert timeline(events, 11 + 2 / 60).attempts[0].recalled_at is None
    assert seg(timeline(events, 11 + 2 / 60), Segment.DE).status is BREACHED

    # At 11:30 the recall is known, no new dispatch yet: no D, CD runs again from C (8.5 min).
    between = timeline(events, 11.5)
    assert between.points[Point.D] is None
    assert all(between.points[p] is None for p in (E, F, G, H))
    cd = seg(between, Segment.CD)
    assert (cd.status, cd.responsible, cd.end, cd.duration_s) == (BREACHED, RC, None, 510)
    assert seg(between, Segment.DE).status is INCOMPLETE
    assert between.total.status is RUNNING
    assert "CD runs again from C" in between.anomalies[0].message

    final = timeline(events)
    assert final.points[Point.D] == minutes(12)
    assert summary(final.segments)[2:] == [
        ("CD", BREACHED, 540),
        ("DE", MET, 60),
        ("EF", MET, 60),
        ("FG", MET, 60),
        ("GH", MET, 900),
    ]
    assert seg(final, Segment.CD).responsible is RC
    assert (final.total.duration_s, final.total.status) == (1800, MET)
    # The crew receiver's breach stays on its attempt: overdue since 08:08 by our records
    # (D at 4 + 4 min), recalled only at 11:05, so the recall is no escape.
    de = final.attempts[0].segments[0]
    assert (de.segment, de.status, de.responsible, de.duration_s) == (
        "DE",
        BREACHED,
        RECEIVER,
        None,
    )
    assert de.evidence is not None
    assert "overdue by our records since 2026-11-02T08:08:00Z when the attempt was recalled" in (
        de.evidence
    )
    assert str(withdrawn.event_id) in de.evidence
    note = next(a for a in final.anomalies if a.code is AnomalyCode.RECALLED_ATTEMPT)
    assert "breached on it: DE (crew_receiver)" in note.message


def test_time_lost_in_attempts_counts_in_cd_and_the_promise_keeps_running() -> None:
    first = dispatched(minutes(4))
    second = dispatched(minutes(21), vehicle="veh-40")
    events = [
        *opening(),
        first,
        report(E, first, minutes(5)),
        report(F, first, minutes(6)),
        recalled(first, minutes(20)),
        second,
        *(report(p, second, minutes(m)) for p, m in ((E, 22), (F, 23), (G, 25), (H, 50))),
    ]
    t = timeline(events)
    assert seg(t, Segment.CD).duration_s == 18 * 60
    assert [s.status for s in t.segments] == [MET, MET, BREACHED, MET, MET, MET, MET]
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (3000, BREACHED, [RC])
    # On attempt 1, FG ran from F at 6 until the recall at 20, overdue since 09:00: breached.
    fg = t.attempts[0].segments[2]
    assert (fg.segment, fg.status, fg.responsible) == ("FG", BREACHED, STAFF)


def test_a_crew_on_a_recalled_attempt_cannot_set_points_for_the_next() -> None:
    first = dispatched(minutes(4), vehicle="veh-12")
    second = dispatched(minutes(7), vehicle="veh-40")
    # The first unit keeps posting after its order was withdrawn (late, or on purpose).
    stale = [report(p, first, minutes(m)) for p, m in ((E, 8), (F, 8.5), (G, 9), (H, 20))]
    events = [*opening(), first, recalled(first, minutes(6)), second, *stale]

    t = timeline(events, 30)
    assert t.points[Point.D] == minutes(7)
    assert all(t.points[p] is None for p in (E, F, G, H))
    de = seg(t, Segment.DE)
    assert (de.status, de.duration_s, de.responsible) == (BREACHED, 23 * 60, RECEIVER)
    assert t.total.status is RUNNING
    assert t.attempts[0].points == {
        Point.D: minutes(4),
        E: minutes(8),
        F: minutes(8.5),
        G: minutes(9),
        H: minutes(20),
    }
    assert t.attempts[1].points == {Point.D: minutes(7), E: None, F: None, G: None, H: None}

    # The second unit's own E is E, first recorded or not, and conflicts with nothing.
    reached = report(E, second, minutes(10), recorded=minutes(25))
    t = timeline([*events, reached], 30)
    assert t.points[E] == minutes(10)
    assert AnomalyCode.CONFLICTING_POINT not in {a.code for a in t.anomalies}


def test_a_report_without_its_cause_belongs_to_the_attempt_dispatched_when_recorded() -> None:
    """Histories from before attempts name no dispatch: the one under way when we recorded it."""
    first = dispatched(minutes(4))
    second = dispatched(minutes(7), vehicle="veh-40")
    early = event(E, minutes(5))  # no causation_id; recorded 5:05, under attempt 1
    late = event(E, minutes(8))  # recorded 8:05, under attempt 2
    t = timeline([*opening(), first, early, recalled(first, minutes(6)), second, late], 30)
    assert (t.attempts[0].points[E], t.attempts[1].points[E]) == (minutes(5), minutes(8))
    assert t.points[E] == minutes(8)


def test_a_second_dispatch_while_one_is_under_way_does_not_move_d() -> None:
    first = dispatched(minutes(4))
    again = dispatched(minutes(6), vehicle="veh-40")  # no recall in between
    t = timeline([*opening(), first, again, report(E, again, minutes(7))], 10)
    assert t.points[Point.D] == minutes(4)
    assert t.points[E] == minutes(7)  # caused by a report for the same attempt's D
    assert [a.number for a in t.attempts] == [1]
    assert (AnomalyCode.CONFLICTING_POINT, Point.D) in codes(t)


def test_a_redispatch_stamped_before_the_recall_cannot_shorten_cd() -> None:
    # C at 3. The recall's console stamps 6:00 though we record it at 3:33 (clock ahead); the
    # re-dispatch is stamped 3:18, before that recall: on stamps CD is 18 s, met.
    first = dispatched(minutes(3.2), recorded=minutes(3.25))
    withdrawn = recalled(first, minutes(6), recorded=minutes(3.55))
    second = dispatched(minutes(3.3), recorded=minutes(3.6), vehicle="veh-40")
    t = timeline([*opening(), first, withdrawn, second], 4)
    cd = seg(t, Segment.CD)
    assert (cd.duration_s, cd.status, cd.responsible) == (18, DISPUTED, RC)
    assert cd.dispute is not None
    assert f"before the recall of attempt 1 (event {withdrawn.event_id})" in cd.dispute
    assert "CD would be breached, not met" in cd.dispute


def test_recalls_that_withdraw_nothing_are_said_and_move_nothing() -> None:
    first = dispatched(minutes(4))
    arrived = report(H, first, minutes(30))
    base = [
        *opening(),
        first,
        *(report(p, first, minutes(m)) for p, m in ((E, 5), (F, 6), (G, 8))),
        arrived,
    ]
    too_late = recalled(first, minutes(31))  # the crew is on site
    unknown = recalled(dispatched(minutes(4), vehicle="veh-99"), minutes(31))  # never dispatched
    t = timeline([*base, too_late, unknown])
    assert t.points == timeline(base).points
    assert t.segments == timeline(base).segments
    assert [a.current for a in t.attempts] == [True]
    ignored = [a for a in t.anomalies if a.code is AnomalyCode.IGNORED_RECALL]
    assert [a.event_ids for a in ignored] == [[too_late.event_id], [unknown.event_id]]
    assert f"CrewArrived on dispatch {first.event_id}" in ignored[0].message
    assert "which we had not recorded before it" in ignored[1].message

    # Recalled twice: the second recall is a repeat and withdraws nothing more.
    withdrawn = recalled(first, minutes(6))
    twice = timeline([*opening(), first, withdrawn, recalled(first, minutes(7))], 10)
    assert twice.attempts[0].recall_event_id == withdrawn.event_id
    assert [a.code for a in twice.anomalies] == [
        AnomalyCode.IGNORED_RECALL,
        AnomalyCode.RECALLED_ATTEMPT,
    ]


def test_three_attempts_follow_the_last() -> None:
    one = dispatched(minutes(4), vehicle="veh-1")
    two = dispatched(minutes(6), vehicle="veh-2")
    three = dispatched(minutes(9), vehicle="veh-3")
    events = [
        *opening(),
        one,
        recalled(one, minutes(5)),
        two,
        report(E, two, minutes(7)),
        recalled(two, minutes(8)),
        three,
        report(E, three, minutes(10)),
    ]
    t = timeline(events, 11)
    assert [(a.number, a.vehicle_id, a.current) for a in t.attempts] == [
        (1, "veh-1", False),
        (2, "veh-2", False),
        (3, "veh-3", True),
    ]
    assert (t.points[Point.D], t.points[E]) == (minutes(9), minutes(10))
    assert [a.code for a in t.anomalies] == [AnomalyCode.RECALLED_ATTEMPT] * 2


def test_dispatch_blocked_and_the_callback_mark_no_point() -> None:
    events = order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, E: 6, F: 7, G: 9, H: 30})
    with_more = [*events, blocked(minutes(3.5)), closed(minutes(60))]
    assert timeline(with_more) == timeline(events)
    assert timeline(with_more).anomalies == []
    # Alone after the call, a blocked dispatch changes nothing either: CD runs from C.
    start = opening()
    waiting = [*start, blocked(minutes(3.5))]
    assert timeline(waiting, 6) == timeline(start, 6)
    assert seg(timeline(waiting, 6), Segment.CD).status is BREACHED


def test_the_picture_marks_each_recall() -> None:
    first = dispatched(minutes(4), vehicle="veh-12")
    second = dispatched(minutes(8), vehicle="veh-40")
    events = [*opening(), first, recalled(first, minutes(7)), second]
    svg = render_svg(timeline(events, 10))
    assert svg.count("recall 1 (veh-12)") == 1
    assert "recall 2" not in svg
    assert "recall" not in render_svg(timeline([*opening(), first], 10))


def test_a_report_naming_no_known_dispatch_sets_no_point() -> None:
    first = dispatched(minutes(4))
    ghost = dispatched(minutes(4), vehicle="veh-99")  # never recorded on this order
    stray = report(E, ghost, minutes(5))
    t = timeline([*opening(), first, stray], 6)
    assert t.points[E] is None
    assert t.attempts[0].points[E] is None
    assert [(a.code, a.point, a.event_ids) for a in t.anomalies] == [
        (AnomalyCode.UNATTRIBUTED_REPORT, E, [stray.event_id])
    ]
    assert str(ghost.event_id) in t.anomalies[0].message


def test_what_the_crew_said_before_any_dispatch_was_heard_is_the_first_attempts() -> None:
    first = dispatched(minutes(4), recorded=minutes(6))
    early = report(E, first, minutes(5), recorded=minutes(5.5))  # heard before its dispatch
    alone = timeline([*opening(), early], 5.75)  # no dispatch known: E stands, D missing
    assert (alone.points[Point.D], alone.points[E], alone.attempts) == (None, minutes(5), [])
    assert (AnomalyCode.MISSING_POINT, Point.D) in codes(alone)
    t = timeline([*opening(), first, early], 7)
    assert (t.points[Point.D], t.points[E]) == (minutes(4), minutes(5))
    assert t.attempts[0].points[E] == minutes(5)
