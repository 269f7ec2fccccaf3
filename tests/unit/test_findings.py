"""Live breaches and the projection row, read off the one judge's answer."""

from datetime import timedelta

from domain.findings import (
    breach_event_id,
    live_breaches,
    next_due,
    projection_row,
    timeline_hash,
)
from domain.policy import DEFAULT_POLICY, Point, PolicyBook, Responsible, Segment, SegmentStatus
from domain.timeline import judge
from tests.unit.factories import WO, event, minutes, order

BOOK = PolicyBook([DEFAULT_POLICY])


def test_a_running_segment_past_its_limit_is_a_live_breach_from_its_limit_on() -> None:
    events = order({Point.A: 0, Point.B: 1, Point.C: 2, Point.D: 3})  # remote crew: DE ≤ 4 min
    before = judge(WO, events, BOOK, minutes(6.9))
    assert live_breaches(before) == []
    assert next_due(before) == minutes(7)

    after = judge(WO, events, BOOK, minutes(7.5))
    [breach] = live_breaches(after)
    assert breach.segment is Segment.DE
    assert breach.attempt == 1
    assert breach.responsible is Responsible.CREW_RECEIVER
    assert (breach.started_at, breach.breached_at, breach.limit_s) == (minutes(3), minutes(7), 240)
    assert next_due(after) is None  # nothing else runs toward a limit


def test_a_segment_whose_end_arrived_is_no_live_breach_even_if_breached() -> None:
    events = [*order({Point.A: 0, Point.B: 1, Point.C: 2, Point.D: 3}), event(Point.E, minutes(9))]
    timeline = judge(WO, events, BOOK, minutes(10))
    de = next(s for s in timeline.segments if s.segment is Segment.DE)
    assert de.status is SegmentStatus.BREACHED
    assert live_breaches(timeline) == []


def test_ab_to_cd_are_attempt_0_and_ids_are_deterministic() -> None:
    events = order({Point.A: 0})
    [ab] = live_breaches(judge(WO, events, BOOK, minutes(3)))
    assert (ab.segment, ab.attempt) == (Segment.AB, 0)
    assert breach_event_id(WO, Segment.AB, 0) == breach_event_id(WO, Segment.AB, 0)
    assert breach_event_id(WO, Segment.AB, 0) != breach_event_id(WO, Segment.AB, 1)


def test_the_row_keeps_the_points_segments_and_the_answers_hash() -> None:
    events = order({Point.A: 0, Point.B: 1, Point.C: 2})
    at = minutes(3)
    timeline = judge(WO, events, BOOK, at)
    row = projection_row(timeline)
    assert row.judged_at == at
    assert row.policy_version == timeline.policy_version
    assert row.points[Point.C] == minutes(2)
    assert row.points[Point.D] is None
    assert [s.segment for s in row.segments] == list(Segment)
    assert row.hash == timeline_hash(judge(WO, events, BOOK, at))  # same input, same hash
    assert row.hash != timeline_hash(judge(WO, events, BOOK, at + timedelta(seconds=1)))
    assert row.next_due_at == minutes(4)  # CD: 2 min from C
