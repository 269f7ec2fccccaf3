"""The pure statistics of calibration: usual time per limit, the draft, the breach counts."""

from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.registry import WorkOrderEventT
from domain.calibration import (
    DE_CO_LOCATED,
    DE_REMOTE,
    breaches,
    compare,
    draft_policy,
    percentile,
    samples,
    usual_times,
)
from domain.policy import DEFAULT_POLICY, Point, Policy, Segment
from domain.timeline import Timeline, compute_timeline
from tests.unit.factories import minutes, order

NOW = minutes(600)
FROM = datetime(2026, 12, 1, tzinfo=UTC)


def events_of(
    n: int, points: dict[Point, float], *, co_located: bool = False
) -> list[WorkOrderEventT]:
    work_order = UUID(int=10_000 + n)
    return [
        e.model_copy(update={"work_order_id": work_order})
        for e in order(points, co_located=co_located)
    ]


def judged_under(policy: Policy, events: list[WorkOrderEventT]) -> Timeline:
    return compute_timeline(events[0].work_order_id, events, policy, NOW)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 10.0], 50) == 2.5  # the mean of the middle two
    assert percentile([1.0, 2.0, 3.0, 10.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 10.0], 100) == 10.0
    assert percentile([0.0, 10.0], 90) == 9.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="must lie in"):
        percentile([1.0], 101)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0, 100))
def test_a_percentile_lies_between_the_extremes_and_grows_with_p(
    values: list[float], p: float
) -> None:
    got = percentile(values, p)
    assert min(values) <= got <= max(values)
    assert percentile(values, min(100.0, p + 5)) >= got


HISTORIES = [
    # AB 60, BC 120, CD 60, DE 120 (remote), EF 60: met; G and H never came (FG breached live).
    events_of(1, {Point.A: 0, Point.B: 1, Point.C: 3, Point.D: 4, Point.E: 6, Point.F: 7}),
    # AB 180 (breached), BC 60, CD 120, DE 300 (remote, breached), EF 120; FG breached live.
    events_of(2, {Point.A: 0, Point.B: 3, Point.C: 4, Point.D: 6, Point.E: 11, Point.F: 13}),
    # AB 120, BC 120; C to E without D: CD and DE incomplete (no sample); EF breached live.
    events_of(3, {Point.A: 0, Point.B: 2, Point.C: 4, Point.E: 5}, co_located=True),
    # Co-located: DE 90 s; EF breached live.
    events_of(4, {Point.A: 0, Point.B: 1, Point.C: 2, Point.D: 3, Point.E: 4.5}, co_located=True),
]
ORDERS = [judged_under(DEFAULT_POLICY, events) for events in HISTORIES]


def test_samples_come_from_segments_judged_on_both_points_de_split_by_co_location() -> None:
    found = samples(ORDERS)
    assert found["AB"] == [60.0, 180.0, 120.0, 60.0]
    assert found["BC"] == [120.0, 60.0, 120.0, 60.0]
    assert found["CD"] == [60.0, 120.0, 60.0]  # order 3 has no D
    assert found[DE_REMOTE] == [120.0, 300.0]
    assert found[DE_CO_LOCATED] == [90.0]
    assert found["EF"] == [60.0, 120.0]
    assert found["FG"] == found["GH"] == []  # running or never started: no sample


def test_usual_time_is_the_median_unless_told_otherwise() -> None:
    usual = usual_times(ORDERS)
    assert (usual["AB"], usual[DE_REMOTE], usual["GH"]) == (90.0, 210.0, None)
    assert usual_times(ORDERS, 100)["AB"] == 180.0


def test_the_draft_is_usual_time_plus_one_minute_the_rest_kept() -> None:
    usual = {**usual_times(ORDERS), "EF": 59.2}
    draft = draft_policy(DEFAULT_POLICY, usual, version="draft-x", effective_from=FROM)
    assert (draft.version, draft.effective_from) == ("draft-x", FROM)
    assert draft.limits_s == {
        Segment.AB: 150,
        Segment.BC: 150,
        Segment.CD: 120,
        Segment.EF: 120,  # 59.2 + 60 rounded up to the second
        Segment.FG: 180,  # no sample: the current limit
        Segment.GH: 1680,
    }
    assert (draft.de_remote_limit_s, draft.de_co_located_limit_s) == (270, 150)
    assert draft.total_limit_s == DEFAULT_POLICY.total_limit_s  # the promise is not calibrated
    assert draft.record_gap_tolerance_s == DEFAULT_POLICY.record_gap_tolerance_s


def test_breaches_count_orders_per_limit() -> None:
    assert breaches(ORDERS) == {
        "AB": 1,
        "BC": 0,
        "CD": 0,
        DE_CO_LOCATED: 0,
        DE_REMOTE: 1,
        "EF": 2,  # orders 3 and 4: E known, F never came, ten hours on
        "FG": 2,  # orders 1 and 2
        "GH": 0,
        "any segment": 4,
        "A to H": 4,
    }


def test_compare_rows_say_both_limits_and_both_counts() -> None:
    # Under the 95th percentile AB's usual time is 171 s, its draft 231 s: order 2's 180 s passes.
    draft = draft_policy(
        DEFAULT_POLICY, usual_times(ORDERS, 95), version="draft-x", effective_from=FROM
    )
    rejudged = [judged_under(draft, events) for events in HISTORIES]
    rows = {row.name: row for row in compare(DEFAULT_POLICY, draft, ORDERS, rejudged, 95)}
    ab = rows["AB"]
    assert (ab.samples, ab.current_limit_s, ab.draft_limit_s) == (4, 120, 231)
    assert ab.usual_s == pytest.approx(171.0)
    assert (ab.breaches_current, ab.breaches_draft) == (1, 0)
    de = rows[DE_REMOTE]
    assert (de.samples, de.draft_limit_s, de.breaches_current, de.breaches_draft) == (2, 351, 1, 0)
    gh = rows["GH"]
    assert (gh.samples, gh.usual_s, gh.draft_limit_s) == (0, None, 1680)
    assert rows["A to H"].current_limit_s == rows["A to H"].draft_limit_s == 2700
    assert (rows["any segment"].breaches_current, rows["any segment"].breaches_draft) == (4, 4)
    assert list(rows)[-2:] == ["any segment", "A to H"]
