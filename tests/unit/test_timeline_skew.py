"""Hand-computed clock skew (ADR 0009): a breach smaller than the end unit's measured lead over
our clock is ``indeterminate``, with the numbers; nothing else changes."""

from collections.abc import Mapping
from datetime import datetime, timedelta

from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Responsible, Segment, SegmentStatus
from domain.timeline import Timeline, compute_timeline
from tests.unit.factories import T0, WO, event, fault_cleared

AHEAD = timedelta(seconds=180)
"""The unit's clock runs 3 minutes ahead of ours; its reports reach us 5 s after the fact."""
NET_DELAY = timedelta(seconds=5)
INDETERMINATE, BREACHED, MET = (
    SegmentStatus.INDETERMINATE,
    SegmentStatus.BREACHED,
    SegmentStatus.MET,
)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def live_points(true_s: Mapping[Point, float], ahead: timedelta = AHEAD) -> list[WorkOrderEventT]:
    """A to D from the live systems (our clock), E to H from a unit ``ahead`` of it, each
    recorded ``NET_DELAY`` after it truly happened."""
    return [
        event(
            point,
            s(at) + (ahead if point >= Point.E else timedelta(0)),
            recorded=s(at) + NET_DELAY,
        )
        for point, at in true_s.items()
    ]


def judged(events: list[WorkOrderEventT], now_s: float = 4000) -> Timeline:
    return compute_timeline(WO, events, DEFAULT_POLICY, s(now_s))


HEAD = {Point.A: 0, Point.B: 120, Point.C: 360, Point.D: 480}


def test_a_breach_within_the_units_lead_is_indeterminate_with_the_numbers() -> None:
    # E truly 230 s after D (met); stamped 180 s ahead: DE reads 410 s, 170 s over its 240 s.
    # The unit's E reached us 5 s after it happened, 175 s before its own stamp: skew 175 s.
    t = judged(live_points({**HEAD, Point.E: 710}))
    de = t.segments[Segment.DE.position]
    assert (de.duration_s, de.limit_s, de.status) == (410.0, 240, INDETERMINATE)
    assert de.skew is not None
    assert (de.skew.source, de.skew.margin_s, de.skew.skew_s) == ("gps-unit:veh-12", 170.0, 175.0)
    assert [r.ahead_s for r in de.skew.reports] == [175.0]
    assert de.responsible is Responsible.CREW_RECEIVER  # who held it; not a breach against it
    assert de.evidence is not None
    assert "cannot be judged breached or met" in de.evidence


def test_a_breach_wider_than_the_lead_stays_breached() -> None:
    # E truly 320 s after D, stamped 180 s ahead: DE reads 500 s, 260 s over; skew 175 s.
    de = judged(live_points({**HEAD, Point.E: 800})).segments[Segment.DE.position]
    assert (de.duration_s, de.status, de.skew) == (500.0, BREACHED, None)


def test_a_met_is_never_touched() -> None:
    # E truly 20 s after D: DE reads 200 s, met, whatever the lead.
    de = judged(live_points({**HEAD, Point.E: 500})).segments[Segment.DE.position]
    assert (de.duration_s, de.status, de.skew) == (200.0, MET, None)


def test_one_clock_at_both_ends_cancels_its_offset() -> None:
    # E and F both from the unit 180 s ahead: EF reads its true 130 s, 10 s over; no excuse.
    t = judged(live_points({**HEAD, Point.E: 500, Point.F: 630}))
    ef = t.segments[Segment.EF.position]
    assert (ef.duration_s, ef.status, ef.skew) == (130.0, BREACHED, None)


def test_a_to_h_within_the_lead_is_indeterminate_and_names_nobody() -> None:
    # Truly 2680 s from A to H (met); H stamped 180 s ahead: 2860 s, 160 s over, skew 175 s.
    true = {**HEAD, Point.E: 710, Point.F: 830, Point.G: 1010, Point.H: 2680}
    t = judged(live_points(true))
    assert t.total.status is INDETERMINATE
    assert t.total.skew is not None
    assert (t.total.skew.margin_s, t.total.skew.skew_s) == (160, 175)
    assert t.total.responsible == []
    assert [r.status for r in t.segments] == [MET, MET, MET, INDETERMINATE, MET, MET, MET]


def test_a_gap_ending_at_the_unit_is_judged_the_same_way() -> None:
    # E never sent; F truly 350 s after D (D to F: 360 s); stamped 180 s ahead: 170 s over.
    gap = judged(live_points({**HEAD, Point.F: 830})).gaps[0]
    assert (gap.start, gap.end, gap.status) == (Point.D, Point.F, INDETERMINATE)
    assert gap.skew is not None
    assert (gap.skew.margin_s, gap.skew.skew_s) == (170.0, 175.0)


def test_posting_late_never_earns_indeterminate() -> None:
    # The unit first posts F stamped 300 s ahead of our clock, then E late: recorded 500 s
    # after D (260 s after DE was visibly overdue), stamped D + 300 s, 60 s over. Its lead is
    # demonstrated, but an end posted after the segment showed overdue is not excused.
    events = [
        *live_points(HEAD),
        event(Point.F, s(480 + 400), recorded=s(480 + 100)),
        event(Point.E, s(480 + 300), recorded=s(480 + 500)),
    ]
    de = judged(events).segments[Segment.DE.position]
    assert (de.duration_s, de.status, de.skew) == (300.0, BREACHED, None)


def test_what_the_unit_posts_after_the_end_does_not_change_its_skew() -> None:
    # E stamped 50 s ahead of its record: DE 300 s is 60 s over, more than 50 s: breached.
    head = live_points(HEAD)
    e = event(Point.E, s(480 + 300), recorded=s(480 + 250))
    before = judged([*head, e]).segments[Segment.DE.position]
    # Then a "fault cleared" stamped 40 minutes ahead of when it reached us.
    cleared = fault_cleared(s(3600), recorded=s(1200))
    after = judged([*head, e, cleared]).segments[Segment.DE.position]
    assert before.status is after.status is BREACHED
    assert after.skew is None


def test_a_clock_behind_is_not_measured_it_is_a_dispute_matter() -> None:
    # A unit 180 s behind: E truly 400 s after D (breached) is stamped at 220 s (met). Nothing
    # proves a clock behind (a slow network looks the same), so skew never applies; but E
    # reached us 165 s after DE was visibly overdue, so ADR 0005 rule (b) disputes the met, with
    # the unit's measured delays (185 s: its record minus its stamp) as the evidence.
    de = judged(live_points({**HEAD, Point.E: 880}, ahead=-AHEAD)).segments[Segment.DE.position]
    assert (de.duration_s, de.status, de.skew) == (220.0, SegmentStatus.DISPUTED, None)
    assert de.dispute is not None
    assert "reached us 185 s to 185 s after their stamps" in de.dispute
