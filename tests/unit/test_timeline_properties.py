"""Properties of compute_timeline over generated orders: arbitrary clocks, gaps, retries, incidents."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY, Point, Segment, SegmentStatus
from domain.timeline import Timeline, compute_timeline
from tests.unit.factories import T0, WO, event, fault_cleared, incident


@dataclass(frozen=True)
class Scenario:
    events: list[WorkOrderEventT]
    incidents: list[NetworkIncidentPayload]
    now: datetime

    def timeline(self) -> Timeline:
        return compute_timeline(WO, self.events, DEFAULT_POLICY, self.now, self.incidents)


def _ms(low_s: int, high_s: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low_s * 1000, high_s * 1000).map(lambda ms: timedelta(milliseconds=ms))


# Mostly forward in time, sometimes behind the previous point (a unit's clock running behind);
# a point is missing one time in five and reported twice (different reports) one time in four.
_POINT = st.tuples(
    _ms(-120, 1200),
    st.sampled_from([True, True, True, True, False]),
    st.sampled_from([1, 1, 1, 2]),
    st.lists(_ms(-200, 700), min_size=2, max_size=2),
)
_INCIDENT = st.tuples(
    st.sampled_from(list(Link)),
    _ms(-600, 4000),
    st.none() | _ms(0, 1200),
    st.sampled_from([None, "rc-chaoyang", "rc-elsewhere"]),
)


@st.composite
def scenarios(draw: st.DrawFn, *, every_point: bool = False) -> Scenario:
    ids = iter(UUID(int=n) for n in range(1, 1000))
    co_located = draw(st.booleans())
    events: list[WorkOrderEventT] = []
    moment = T0
    for point, (step, present, copies, delays) in zip(
        Point, draw(st.lists(_POINT, min_size=8, max_size=8)), strict=True
    ):
        moment += step
        if not (present or every_point):
            continue
        for copy in range(copies):
            occurred = moment + timedelta(seconds=90 * copy)
            events.append(
                event(
                    point,
                    occurred,
                    recorded=occurred + delays[copy],
                    event_id=next(ids),
                    report_id=f"r-{point}-{copy}",
                    co_located=co_located,
                )
            )
    cleared_after = draw(st.none() | _ms(0, 3600))
    if cleared_after is not None:
        cleared = fault_cleared(moment + cleared_after)
        events.append(cleared.model_copy(update={"event_id": next(ids)}))
    incidents = [
        incident(
            link,
            T0 + start,
            None if length is None else T0 + start + length,
            incident_id=f"inc-{n}",
            repair_center_id=center,
        )
        for n, (link, start, length, center) in enumerate(draw(st.lists(_INCIDENT, max_size=3)))
    ]
    now = T0 + draw(_ms(-300, 9000))
    if every_point:  # every point must also be known by `now`
        now = max(now, *(e.recorded_at for e in events))
    return Scenario(events, incidents, now)


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_order_and_repetition_of_the_input_do_not_matter(
    scenario: Scenario, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(scenario.events))
    repeated = data.draw(st.lists(st.sampled_from(scenario.events), max_size=6)) if shuffled else []
    incidents = data.draw(st.permutations(scenario.incidents))
    again = compute_timeline(WO, [*shuffled, *repeated], DEFAULT_POLICY, scenario.now, incidents)
    assert again == scenario.timeline()
    assert again.model_dump_json() == scenario.timeline().model_dump_json()


# Generating an order costs far more than judging it, so the invariants of a single timeline are
# checked together on each generated order.
@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_invariants_of_any_timeline(scenario: Scenario) -> None:
    t = scenario.timeline()
    _shape_is_complete(t)
    _both_ends_known_breached_iff_over_limit(t)
    _every_breach_names_a_party_and_evidence(t)
    _late_order_has_a_segment_breached_or_unjudged(t)


@settings(max_examples=200, deadline=None)
@given(scenarios(every_point=True))
def test_invariants_with_every_point_known(scenario: Scenario) -> None:
    t = scenario.timeline()
    durations = [s.duration_s for s in t.segments]
    assert None not in durations
    assert t.total.duration_s is not None
    # The seven durations add up to A to H, out-of-order (negative) segments included.
    assert sum(d for d in durations if d is not None) == pytest.approx(t.total.duration_s, abs=1e-6)
    if t.total.status is SegmentStatus.BREACHED:
        assert any(s.status is SegmentStatus.BREACHED for s in t.segments)
        assert t.total.responsible
    _both_ends_known_breached_iff_over_limit(t)
    _every_breach_names_a_party_and_evidence(t)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_only_what_was_recorded_by_now_counts(scenario: Scenario) -> None:
    known = [e for e in scenario.events if e.recorded_at <= scenario.now]
    assert scenario.timeline() == Scenario(known, scenario.incidents, scenario.now).timeline()


def _shape_is_complete(t: Timeline) -> None:
    assert list(t.points) == list(Point)
    assert [s.segment for s in t.segments] == list(Segment)
    for s in t.segments:
        assert (s.start, s.end) == (t.points[s.segment.start], t.points[s.segment.end])
        # Who holds the order is known exactly when the segment has started.
        assert (s.responsible is None) == (s.start is None)
    assert (t.total.start, t.total.end) == (t.points[Point.A], t.points[Point.H])


def _both_ends_known_breached_iff_over_limit(t: Timeline) -> None:
    """Over the limit is breached, negative is invalid, the rest met unless contested."""
    for s in t.segments:
        if s.start is not None and s.end is not None:
            assert s.duration_s == (s.end - s.start).total_seconds()
            if s.duration_s < 0:
                assert s.status is SegmentStatus.INVALID
            elif s.duration_s > s.limit_s:
                assert s.status is SegmentStatus.BREACHED
            else:
                contested = SegmentStatus.DISPUTED if s.dispute else SegmentStatus.MET
                assert s.status is contested


def _every_breach_names_a_party_and_evidence(t: Timeline) -> None:
    breached = [s for s in t.segments if s.status is SegmentStatus.BREACHED]
    for s in breached:
        assert s.responsible is not None
        assert s.evidence
        # Without a duration only when the order moved on after the segment was overdue.
        assert s.duration_s is None or s.duration_s > s.limit_s
        assert s.duration_s is not None or s.end is None
    for s in t.segments:
        assert s.status is not SegmentStatus.INVALID or (s.duration_s or 0) < 0
    promise_broken = t.total.status is SegmentStatus.BREACHED
    expected = list(dict.fromkeys(s.responsible for s in breached)) if promise_broken else []
    assert t.total.responsible == expected


def _late_order_has_a_segment_breached_or_unjudged(t: Timeline) -> None:
    """A to H breached implies some segment breached or incomplete.

    Why it holds: if no segment is incomplete, every segment has its start, so A..G are known and
    the seven durations (GH's counted to now while H is open) add up to A to H exactly. That sum
    exceeds the total limit, which is at least the sum of the seven limits (45 min vs 43 or 45),
    so some duration exceeds its limit, and a measured segment over its limit is breached.
    """
    policy = DEFAULT_POLICY
    assert sum(policy.limit_for(s, crew_co_located=False) for s in Segment) <= policy.total_limit_s
    if t.total.status is SegmentStatus.BREACHED:
        assert any(
            s.status in (SegmentStatus.BREACHED, SegmentStatus.INCOMPLETE) for s in t.segments
        )


# The guarantee of ADR 0005: once a segment (or A to H) is breached, nothing the crew's unit
# posts afterwards — reports for any of E to H, with any stamps, recorded after the breach was
# seen plus the tolerance — makes it met again. Every segment that the crew's posts can end is
# checked, whoever answers for it (DE may be the network's), and so is the total.
_EXTRA = st.lists(
    st.tuples(
        st.sampled_from([Point.E, Point.F, Point.G, Point.H]), _ms(-3600, 3600), _ms(1, 3600)
    ),
    min_size=1,
    max_size=6,
)
_UNBENDABLE = {SegmentStatus.BREACHED, SegmentStatus.INVALID, SegmentStatus.DISPUTED}


@settings(max_examples=400, deadline=None)
@given(scenarios(), _EXTRA, _ms(0, 7200))
def test_a_breach_cannot_be_posted_away(
    scenario: Scenario, extra: list[tuple[Point, timedelta, timedelta]], later: timedelta
) -> None:
    before = scenario.timeline()
    breached = [
        s.segment
        for s in before.segments
        if s.status is SegmentStatus.BREACHED
        and s.segment.end in (Point.E, Point.F, Point.G, Point.H)
    ]
    total_breached = before.total.status is SegmentStatus.BREACHED
    if not breached and not total_breached:
        return
    grace = timedelta(seconds=DEFAULT_POLICY.record_gap_tolerance_s)
    ids = iter(UUID(int=n) for n in range(5000, 6000))
    # Stamps near the start of what is breached, where a post could shorten it if allowed.
    starts = [before.segments[s.position].start for s in breached] + [before.total.start]
    anchor = next(start for start in starts if start is not None)
    posts = [
        event(
            point,
            anchor + stamp,
            recorded=scenario.now + grace + after,
            event_id=next(ids),
            report_id=f"extra-{n}",
        )
        for n, (point, stamp, after) in enumerate(extra)
    ]
    judged_at = max(p.recorded_at for p in posts) + later
    after_posts = compute_timeline(
        WO, [*scenario.events, *posts], DEFAULT_POLICY, judged_at, scenario.incidents
    )
    for segment in breached:
        assert after_posts.segments[segment.position].status in _UNBENDABLE, segment
    if total_breached:
        assert after_posts.total.status in _UNBENDABLE
