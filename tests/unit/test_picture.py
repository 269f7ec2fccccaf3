"""The timeline picture: every status has its colour, and a disputed finding shows as one."""

from domain.policy import DEFAULT_POLICY, Point, SegmentStatus
from domain.timeline import compute_timeline
from services.timeline.picture import COLORS, render_svg
from tests.unit.factories import WO, event, minutes, order


def test_every_status_has_a_colour() -> None:
    assert set(COLORS) == set(SegmentStatus)


def test_a_disputed_segment_is_drawn_in_its_colour() -> None:
    events = order({Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.E: 6, Point.F: 7})
    departed = event(Point.G, minutes(9), recorded=minutes(20))  # posted after FG was overdue
    t = compute_timeline(WO, [*events, departed], DEFAULT_POLICY, minutes(21))
    svg = render_svg(t)
    assert f'fill="{COLORS[SegmentStatus.DISPUTED]}"' in svg
    assert "disputed 2.0/3 min" in svg
