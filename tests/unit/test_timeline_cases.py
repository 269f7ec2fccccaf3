"""Hand-computed timelines: each case states every point, segment status, party and the total."""

from datetime import timedelta

import pytest

from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Responsible, Segment, SegmentStatus
from domain.timeline import AnomalyCode, SegmentResult, Timeline, compute_timeline
from tests.unit.factories import (
    REPAIR_CENTER,
    WO,
    event,
    fault_cleared,
    incident,
    minutes,
    order,
)

MET, BREACHED, RUNNING, INCOMPLETE = (
    SegmentStatus.MET,
    SegmentStatus.BREACHED,
    SegmentStatus.RUNNING,
    SegmentStatus.INCOMPLETE,
)
CSC = Responsible.CUSTOMER_SERVICE_CENTER
RC = Responsible.REPAIR_CENTER
RECEIVER = Responsible.CREW_RECEIVER
STAFF = Responsible.CREW_REPAIR_STAFF
NET = Responsible.NETWORK

ON_TIME = {
    Point.A: 0,
    Point.B: 1,
    Point.C: 3,
    Point.D: 4,
    Point.E: 6,
    Point.F: 7,
    Point.G: 9,
    Point.H: 30,
}
HEALTHY_PARTIES = [CSC, RC, RC, RECEIVER, RECEIVER, STAFF, STAFF]
LATER = minutes(90)


def timeline(
    events: list[WorkOrderEventT],
    now_minutes: float = 90,
    incidents: list[NetworkIncidentPayload] | None = None,
) -> Timeline:
    return compute_timeline(WO, events, DEFAULT_POLICY, minutes(now_minutes), incidents or [])


def seg(t: Timeline, segment: Segment) -> SegmentResult:
    return t.segments[segment.position]


def statuses(t: Timeline) -> list[SegmentStatus]:
    return [s.status for s in t.segments]


def parties(t: Timeline) -> list[Responsible | None]:
    return [s.responsible for s in t.segments]


def durations(t: Timeline) -> list[float | None]:
    return [s.duration_s for s in t.segments]


def codes(t: Timeline) -> list[tuple[AnomalyCode, Point | None]]:
    return [(a.code, a.point) for a in t.anomalies]


def test_all_on_time() -> None:
    t = timeline(order(ON_TIME))

    assert t.work_order_id == WO
    assert t.as_of == LATER
    assert t.policy_version == "2026-11-01"
    assert t.points == {p: minutes(m) for p, m in ON_TIME.items()}
    assert [s.segment for s in t.segments] == list(Segment)
    assert durations(t) == [60, 120, 60, 120, 60, 120, 1260]
    assert [s.limit_s for s in t.segments] == [120, 240, 120, 240, 120, 180, 1680]
    assert statuses(t) == [MET] * 7
    assert parties(t) == HEALTHY_PARTIES
    # Met fixed-party segments need no evidence; BC and DE always say what the network did.
    assert [s.evidence is None for s in t.segments] == [True, False, True, False, True, True, True]
    assert "network healthy on customer_service_to_repair_center" in (
        seg(t, Segment.BC).evidence or ""
    )
    assert "network healthy on repair_center_to_crew" in (seg(t, Segment.DE).evidence or "")
    assert (t.total.segment, t.total.start, t.total.end) == ("AH", minutes(0), minutes(30))
    assert (t.total.duration_s, t.total.limit_s, t.total.status) == (1800, 2700, MET)
    assert t.total.responsible == []
    assert t.fault_cleared_at is None
    assert t.anomalies == []


def test_ab_breached_is_the_customer_service_centers() -> None:
    events = order({**ON_TIME, Point.A: -2})  # AB = 3 min
    t = timeline(events)

    ab = seg(t, Segment.AB)
    assert (ab.duration_s, ab.status, ab.responsible) == (180, BREACHED, CSC)
    assert ab.evidence is not None
    assert "180 s" in ab.evidence
    assert "limit 120 s" in ab.evidence
    assert str(events[0].event_id) in ab.evidence
    assert str(events[1].event_id) in ab.evidence
    assert statuses(t) == [BREACHED] + [MET] * 6
    assert parties(t) == HEALTHY_PARTIES
    # The promise was kept, yet the breached segment's party is still named.
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (1920, MET, [])


def test_gh_breached_makes_the_whole_order_late() -> None:
    # Every other segment exactly at its limit (met: the boundary is inclusive), GH 31 min.
    at = {Point.A: 0, Point.B: 2, Point.C: 6, Point.D: 8, Point.E: 12, Point.F: 14, Point.G: 17}
    t = timeline(order({**at, Point.H: 48}))

    assert durations(t) == [120, 240, 120, 240, 120, 180, 31 * 60]
    assert statuses(t) == [MET] * 6 + [BREACHED]
    assert parties(t) == HEALTHY_PARTIES
    assert "1860 s" in (seg(t, Segment.GH).evidence or "")
    assert (t.total.duration_s, t.total.status) == (48 * 60, BREACHED)
    assert t.total.responsible == [STAFF]


def test_fg_and_gh_breached_name_the_repair_staff_once() -> None:
    t = timeline(order({**ON_TIME, Point.G: 11, Point.H: 46}))  # FG 4 min, GH 35 min
    assert statuses(t) == [MET] * 5 + [BREACHED, BREACHED]
    assert (t.total.duration_s, t.total.status) == (46 * 60, BREACHED)
    assert t.total.responsible == [STAFF]


@pytest.mark.parametrize(
    ("co_located", "limit", "status", "evidence_is_breach"),
    [(False, 240, MET, False), (True, 120, BREACHED, True)],
)
def test_de_limit_depends_on_the_crew_sharing_the_office(
    co_located: bool, limit: int, status: SegmentStatus, evidence_is_breach: bool
) -> None:
    t = timeline(order({**ON_TIME, Point.E: 7, Point.F: 8}, co_located=co_located))  # DE 3 min

    de = seg(t, Segment.DE)
    assert (de.duration_s, de.limit_s, de.status, de.responsible) == (180, limit, status, RECEIVER)
    assert de.evidence is not None
    assert "network healthy on repair_center_to_crew" in de.evidence
    assert ("180 s" in de.evidence) is evidence_is_breach
    assert statuses(t) == [MET, MET, MET, status, MET, MET, MET]
    assert parties(t) == HEALTHY_PARTIES
    assert (t.total.status, t.total.responsible) == (MET, [])


BC_LATE = {**ON_TIME, Point.C: 7, Point.D: 8, Point.E: 10, Point.F: 11, Point.G: 12}  # BC 6 min
CS_LINK = Link.CUSTOMER_SERVICE_TO_REPAIR_CENTER


def test_bc_breached_during_a_network_incident_is_the_networks() -> None:
    t = timeline(order(BC_LATE), incidents=[incident(CS_LINK, minutes(1.5), minutes(3))])

    bc = seg(t, Segment.BC)
    assert (bc.duration_s, bc.status, bc.responsible) == (360, BREACHED, NET)
    assert bc.evidence is not None
    assert "network incident inc-1 on customer_service_to_repair_center overlapped" in bc.evidence
    assert "2026-11-02T08:01:00Z" in bc.evidence
    assert "2026-11-02T08:07:00Z" in bc.evidence
    assert statuses(t) == [MET, BREACHED, MET, MET, MET, MET, MET]
    assert parties(t) == [CSC, NET, RC, RECEIVER, RECEIVER, STAFF, STAFF]
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (1800, MET, [])


@pytest.mark.parametrize(
    "incidents",
    [
        pytest.param([], id="no incident"),
        pytest.param([incident(CS_LINK, minutes(-5), minutes(0.5))], id="ended before B"),
        pytest.param([incident(CS_LINK, minutes(-5), minutes(1))], id="ended exactly at B"),
        pytest.param([incident(CS_LINK, minutes(7))], id="opened exactly at C"),
        pytest.param(
            [incident(Link.REPAIR_CENTER_TO_CREW, minutes(2), minutes(6))], id="other link"
        ),
        pytest.param(
            [incident(CS_LINK, minutes(2), repair_center_id="rc-elsewhere")],
            id="another repair center's link",
        ),
    ],
)
def test_bc_breached_on_a_healthy_network_is_the_repair_centers(
    incidents: list[NetworkIncidentPayload],
) -> None:
    t = timeline(order(BC_LATE), incidents=incidents)

    bc = seg(t, Segment.BC)
    assert (bc.status, bc.responsible) == (BREACHED, RC)
    assert "network healthy on customer_service_to_repair_center" in (bc.evidence or "")
    assert "360 s" in (bc.evidence or "")
    assert parties(t) == HEALTHY_PARTIES
    assert (t.total.status, t.total.responsible) == (MET, [])  # the promise itself was kept


@pytest.mark.parametrize(
    "found",
    [
        pytest.param(incident(CS_LINK, minutes(5)), id="still open"),
        pytest.param(incident(CS_LINK, minutes(0), minutes(1.01)), id="ended just after B"),
        pytest.param(incident(CS_LINK, minutes(2), repair_center_id=REPAIR_CENTER), id="scoped"),
    ],
)
def test_incidents_that_count(found: NetworkIncidentPayload) -> None:
    t = timeline(order(BC_LATE), incidents=[found])
    assert seg(t, Segment.BC).responsible is NET


def test_an_order_under_way_runs_then_breaches_live() -> None:
    events = order({p: ON_TIME[p] for p in (Point.A, Point.B, Point.C, Point.D)})

    within = timeline(events, now_minutes=7)  # DE open 3 min of 4
    assert within.points == {
        **{p: minutes(ON_TIME[p]) for p in (Point.A, Point.B, Point.C, Point.D)},
        **{p: None for p in (Point.E, Point.F, Point.G, Point.H)},
    }
    assert statuses(within) == [MET, MET, MET, RUNNING, INCOMPLETE, INCOMPLETE, INCOMPLETE]
    assert durations(within) == [60, 120, 60, 180, None, None, None]
    assert parties(within) == [CSC, RC, RC, RECEIVER, None, None, None]
    assert [s.evidence for s in within.segments[4:]] == [None, None, None]
    assert (within.total.duration_s, within.total.status) == (420, RUNNING)
    assert within.total.responsible == []
    assert within.anomalies == []

    at_limit = timeline(events, now_minutes=8)  # exactly 4 min: still within
    assert seg(at_limit, Segment.DE).status is RUNNING

    past = timeline(events, now_minutes=9)  # DE open 5 min
    de = seg(past, Segment.DE)
    assert (de.start, de.end, de.duration_s, de.status, de.responsible) == (
        minutes(4),
        None,
        300,
        BREACHED,
        RECEIVER,
    )
    assert de.evidence is not None
    assert "no E yet" in de.evidence
    assert statuses(past) == [MET, MET, MET, BREACHED, INCOMPLETE, INCOMPLETE, INCOMPLETE]
    assert (past.total.status, past.total.responsible) == (RUNNING, [])

    hour_later = timeline(events, now_minutes=50)
    assert (hour_later.total.duration_s, hour_later.total.status) == (3000, BREACHED)


def test_a_live_de_during_an_open_incident_is_the_networks() -> None:
    events = order({p: ON_TIME[p] for p in (Point.A, Point.B, Point.C, Point.D)})
    open_incident = incident(Link.REPAIR_CENTER_TO_CREW, minutes(6), incident_id="inc-9")
    t = timeline(events, now_minutes=10, incidents=[open_incident])
    de = seg(t, Segment.DE)
    assert (de.status, de.responsible) == (BREACHED, NET)
    assert "inc-9" in (de.evidence or "")


def test_reports_posted_out_of_order_give_the_same_timeline() -> None:
    in_order = [event(p, minutes(m), recorded=minutes(m + 0.5)) for p, m in ON_TIME.items()]
    # The unit's departure report is stuck and arrives after the arrival report.
    g, h = in_order[6], in_order[7]
    stuck = g.model_copy(update={"recorded_at": h.recorded_at + timedelta(seconds=30)})
    posted = [*in_order[:6], h, stuck]

    assert timeline(posted) == timeline([*in_order[:6], stuck, h])
    assert timeline(posted) == timeline(list(reversed(posted)))
    assert timeline(posted).points == timeline(in_order).points
    # Only FG changes: its end came 21 minutes after FG was overdue by our records, so the
    # stamp alone cannot make it met (ADR 0005).
    stuck_fg, clean_fg = seg(timeline(posted), Segment.FG), seg(timeline(in_order), Segment.FG)
    assert (clean_fg.status, stuck_fg.status) == (MET, SegmentStatus.DISPUTED)
    assert "recorded only at 2026-11-02T08:31:00Z, 1260 s after FG" in (stuck_fg.dispute or "")
    others = [s for s in timeline(posted).segments if s.segment is not Segment.FG]
    assert others == [s for s in timeline(in_order).segments if s.segment is not Segment.FG]


def test_an_event_posted_twice_counts_once() -> None:
    events = order(ON_TIME)
    assert timeline([*events, events[7], events[3]]) == timeline(events)
    assert timeline([*events, events[7]]).anomalies == []


def test_a_retried_report_is_one_report() -> None:
    events = order({p: m for p, m in ON_TIME.items() if p is not Point.H})
    arrived = event(Point.H, minutes(30), report_id="arrive-1")
    retry = event(Point.H, minutes(30), recorded=minutes(31), report_id="arrive-1")
    t = timeline([*events, arrived, retry])
    assert retry.event_id != arrived.event_id
    assert t.points[Point.H] == minutes(30)
    assert t.anomalies == []


def test_a_missing_point_leaves_its_segments_unjudged() -> None:
    at = dict(ON_TIME)
    del at[Point.E]
    events = order(at)
    t = timeline(events)

    assert t.points[Point.E] is None
    assert statuses(t) == [MET, MET, MET, INCOMPLETE, INCOMPLETE, MET, MET]
    assert durations(t) == [60, 120, 60, None, None, 120, 1260]
    # DE's start is known, so it still says who held the order; EF has no start.
    assert parties(t) == [CSC, RC, RC, RECEIVER, None, STAFF, STAFF]
    assert "08:04:00Z" in (seg(t, Segment.DE).evidence or "")
    assert "08:07:00Z" in (seg(t, Segment.DE).evidence or "")  # up to F, not up to now
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (1800, MET, [])
    assert codes(t) == [(AnomalyCode.MISSING_POINT, Point.E)]
    assert t.anomalies[0].event_ids == [events[4].event_id]  # the F that shows it moved on


def test_a_missing_start_is_incomplete() -> None:
    at = dict(ON_TIME)
    del at[Point.A]
    t = timeline(order(at))
    assert statuses(t)[0] is INCOMPLETE
    assert parties(t)[0] is None
    assert (t.total.start, t.total.duration_s, t.total.status) == (None, None, INCOMPLETE)
    assert codes(t) == [(AnomalyCode.MISSING_POINT, Point.A)]


def test_fault_cleared_without_arrival_does_not_release_the_crew() -> None:
    at = dict(ON_TIME)
    del at[Point.H]
    cleared = fault_cleared(minutes(20))
    t = timeline([*order(at), cleared])

    assert t.fault_cleared_at == minutes(20)
    gh = seg(t, Segment.GH)
    assert (gh.status, gh.responsible, gh.duration_s) == (BREACHED, STAFF, 81 * 60)
    assert (t.total.duration_s, t.total.status, t.total.responsible) == (90 * 60, BREACHED, [STAFF])
    running = timeline([*order(at), cleared], now_minutes=21)
    assert (seg(running, Segment.GH).status, running.total.status) == (RUNNING, RUNNING)
    assert running.fault_cleared_at == minutes(20)
    assert codes(t) == [(AnomalyCode.MISSING_POINT, Point.H)]
    assert t.anomalies[0].event_ids == [cleared.event_id]


def test_fault_cleared_after_arrival_changes_nothing_else() -> None:
    events = order(ON_TIME)
    t = timeline([*events, fault_cleared(minutes(50))])
    assert t.fault_cleared_at == minutes(50)
    assert t.model_copy(update={"fault_cleared_at": None}) == timeline(events)


def test_clock_ahead_and_reported_late() -> None:
    events = order(ON_TIME)
    ahead = event(Point.F, minutes(7), recorded=minutes(7) - timedelta(seconds=121))
    late = event(Point.G, minutes(9), recorded=minutes(9) + timedelta(seconds=301))
    just_ok = event(Point.E, minutes(6), recorded=minutes(6) + timedelta(seconds=300))
    t = timeline([*events[:4], just_ok, ahead, late, events[7]])

    assert t.points == timeline(events).points
    assert codes(t) == [(AnomalyCode.CLOCK_AHEAD, Point.F), (AnomalyCode.REPORTED_LATE, Point.G)]
    assert [a.event_ids for a in t.anomalies] == [[ahead.event_id], [late.event_id]]
    assert "121 s" in t.anomalies[0].message
    assert "301 s" in t.anomalies[1].message


def test_a_clock_behind_makes_points_out_of_order() -> None:
    # The crew's departure is stamped a minute before its acceptance.
    events = order({**ON_TIME, Point.G: 6.5})
    t = timeline(events)

    assert statuses(t) == [MET] * 5 + [SegmentStatus.INVALID, MET]
    fg = seg(t, Segment.FG)
    assert (fg.duration_s, fg.status, fg.responsible) == (-30, SegmentStatus.INVALID, STAFF)
    assert "G is stamped 2026-11-02T08:06:30Z" in (fg.evidence or "")
    assert "before F at 2026-11-02T08:07:00Z" in (fg.evidence or "")
    assert str(events[5].event_id) in (fg.evidence or "")
    assert str(events[6].event_id) in (fg.evidence or "")
    assert seg(t, Segment.GH).duration_s == 1410
    assert sum(d or 0 for d in durations(t)) == t.total.duration_s == 1800
    assert codes(t) == [(AnomalyCode.OUT_OF_ORDER, Point.G)]
    anomaly = t.anomalies[0]
    assert anomaly.segment is Segment.FG
    assert anomaly.event_ids == [events[5].event_id, events[6].event_id]
    assert "-30 s" in anomaly.message


def test_out_of_order_across_a_gap_names_no_segment() -> None:
    at = {**ON_TIME, Point.B: 5, Point.D: 4}
    del at[Point.C]
    events = order(at)  # D stamped before B, with C never recorded between them
    t = timeline(events)

    assert codes(t) == [(AnomalyCode.MISSING_POINT, Point.C), (AnomalyCode.OUT_OF_ORDER, Point.D)]
    out_of_order = t.anomalies[1]
    assert out_of_order.segment is None
    assert out_of_order.event_ids == [events[1].event_id, events[2].event_id]
    assert "B at 2026-11-02T08:05:00Z" in out_of_order.message
    assert statuses(t) == [BREACHED, INCOMPLETE, INCOMPLETE, MET, MET, MET, MET]


def test_out_of_order_inside_a_segment_names_it() -> None:
    events = order({**ON_TIME, Point.C: 0.5})  # C stamped before B and after A
    t = timeline(events)

    assert codes(t) == [(AnomalyCode.OUT_OF_ORDER, Point.C)]
    assert t.anomalies[0].segment is Segment.BC
    assert durations(t)[:3] == [60, -30, 210]
    assert statuses(t) == [MET, SegmentStatus.INVALID, BREACHED, MET, MET, MET, MET]


def test_an_event_stamped_after_now() -> None:
    events = order({p: ON_TIME[p] for p in (Point.A, Point.B, Point.C)})
    ahead = event(Point.D, minutes(8), recorded=minutes(4))  # unit's clock 4 min ahead
    t = timeline([*events, ahead], now_minutes=5)
    assert t.points[Point.D] == minutes(8)
    assert seg(t, Segment.DE).status is RUNNING
    assert seg(t, Segment.DE).duration_s == -180
    assert codes(t) == [(AnomalyCode.CLOCK_AHEAD, Point.D), (AnomalyCode.EVENT_AFTER_NOW, Point.D)]


def test_as_of_an_instant_only_what_was_recorded_by_then_counts() -> None:
    events = order(ON_TIME)  # each recorded 5 s after it occurred
    then = timeline(events, now_minutes=5)
    before = timeline(events[:4], now_minutes=5)

    assert then == before
    assert then.points[Point.E] is None
    assert seg(then, Segment.DE).status is RUNNING
    # A report that occurred before `now` but reached us after it is not yet known.
    late_d = event(Point.D, minutes(4), recorded=minutes(6))
    assert timeline([*events[:3], late_d], now_minutes=5).points[Point.D] is None


def test_the_answer_serialises_with_every_point() -> None:
    t = timeline(order({Point.A: 0}), now_minutes=1)
    body = t.model_dump(mode="json")
    assert list(body["points"]) == ["A", "B", "C", "D", "E", "F", "G", "H"]
    assert body["points"]["A"] == "2026-11-02T08:00:00Z"
    assert body["total"]["segment"] == "AH"
    assert Timeline.model_validate_json(t.model_dump_json()) == t


def test_events_of_another_order_are_refused() -> None:
    from uuid import UUID

    stray = event(Point.A, minutes(0), work_order_id=UUID(int=7))
    with pytest.raises(ValueError, match="belongs to work order"):
        timeline([stray])


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_timeline(WO, [], DEFAULT_POLICY, minutes(0).replace(tzinfo=None))


def test_no_events_at_all() -> None:
    t = timeline([])
    assert set(t.points) == set(Point)
    assert all(v is None for v in t.points.values())
    assert statuses(t) == [INCOMPLETE] * 7
    assert parties(t) == [None] * 7
    assert t.total.status is INCOMPLETE
    assert t.anomalies == []
