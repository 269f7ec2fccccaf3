import pytest
from pydantic import ValidationError

from domain.policy import DEFAULT_POLICY, Point, Policy, Segment


def test_segments_name_their_points() -> None:
    assert Segment.AB.start is Point.A
    assert Segment.AB.end is Point.B
    assert Segment.GH.start is Point.G
    assert Segment.GH.end is Point.H
    assert [s.start for s in Segment] == list(Point)[:-1]
    assert [s.end for s in Segment] == list(Point)[1:]
    assert [p.position for p in Point] == list(range(8))
    assert [s.position for s in Segment] == list(range(7))


def test_default_limits_are_the_sources_numbers() -> None:
    p = DEFAULT_POLICY
    assert p.version == "2026-11-01"
    assert {s: p.limit_for(s, crew_co_located=False) for s in Segment} == {
        Segment.AB: 2 * 60,
        Segment.BC: 4 * 60,
        Segment.CD: 2 * 60,
        Segment.DE: 4 * 60,
        Segment.EF: 2 * 60,
        Segment.FG: 3 * 60,
        Segment.GH: 28 * 60,
    }
    assert p.limit_for(Segment.DE, crew_co_located=True) == 2 * 60
    assert (p.clock_ahead_tolerance_s, p.late_report_s) == (120, 300)


def test_the_seven_limits_add_up_to_the_45_minute_promise() -> None:
    p = DEFAULT_POLICY
    assert sum(p.limit_for(s, crew_co_located=False) for s in Segment) == 45 * 60
    assert p.total_limit_s == 45 * 60


def test_de_limit_without_a_dispatch_is_the_remote_one() -> None:
    assert DEFAULT_POLICY.limit_for(Segment.DE, crew_co_located=None) == 240


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_POLICY.total_limit_s = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({s: 60 for s in Segment}, id="DE given in limits_s"),
        pytest.param(
            {s: 60 for s in Segment if s not in (Segment.DE, Segment.GH)}, id="GH missing"
        ),
        pytest.param(
            {s: (0 if s is Segment.AB else 60) for s in Segment if s is not Segment.DE},
            id="zero limit",
        ),
    ],
)
def test_policy_rejects_bad_limits(limits: dict[Segment, int]) -> None:
    with pytest.raises(ValidationError):
        Policy(version="x", effective_from=DEFAULT_POLICY.effective_from, limits_s=limits)
