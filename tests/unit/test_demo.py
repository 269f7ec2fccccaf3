"""``make demo``'s script (``simulator.storm``): a function of its seed, holding every story, and
stamped so that only what is meant to be late is late."""

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from simulator.plan import CO_LOCATED_DE_S, LIMITS_S
from simulator.storm import (
    DemoCity,
    MoveKind,
    OrderScript,
    Storm,
    Story,
    make_storm,
)

SEED = json.loads((Path(__file__).parents[2] / "seed" / "city.json").read_text())
CITY = DemoCity.from_seed(SEED)
POINTS = "ABCDEFGH"


def storm(seed: int = 1, /, **options: Any) -> Storm:
    return make_storm(CITY, seed, tag="t", **options)


def stamps(order: OrderScript) -> dict[str, float]:
    """Each point's stamp (real seconds from the start) if every answer came at once; a point
    marked twice (a recall's second dispatch) keeps the last, as the timeline follows it."""
    sent = order.start_s
    found: dict[str, float] = {}
    for move in order.moves:
        sent += move.gap_s
        if move.point is not None:
            found[move.point] = sent - move.lag_s
    return found


def of(s: Storm, story: Story) -> list[OrderScript]:
    return [o for o in s.orders if o.story is story]


def test_the_same_seed_gives_the_same_script_and_another_seed_another() -> None:
    assert storm(1) == storm(1)
    assert storm(1).fingerprint() == storm(1).fingerprint()
    assert storm(1).fingerprint() != storm(2).fingerprint()
    assert storm(1, speed=40).fingerprint() != storm(1).fingerprint()


def test_the_script_holds_one_of_each_story() -> None:
    s = storm()
    kinds = [m.kind for o in s.orders for m in o.moves]
    assert {o.story for o in s.orders} == set(Story)
    assert kinds.count(MoveKind.AWAIT_ESCALATION) == 1
    assert kinds.count(MoveKind.RECALL) == 1
    assert kinds.count(MoveKind.INCIDENT_STARTED) == kinds.count(MoveKind.INCIDENT_ENDED) == 1
    assert sorted(o.late_segment for o in s.orders if o.late_segment) == ["BC", "DE", "EF", "EF"]
    reports = [m for o in s.orders for m in o.moves if m.kind is MoveKind.REPORT]
    assert any(m.duplicate_after_s is not None for m in reports)
    assert any(m.lag_s > 1 for m in reports)  # posted late
    assert sum(m.kind is MoveKind.PING for o in s.orders for m in o.moves) > 50


def test_the_smallest_script_still_holds_every_story() -> None:
    s = storm(calls=6, speed=400, head_start_s=250)
    assert {o.story for o in s.orders} == set(Story)
    assert s.planned_s() < 30


def test_late_segments_are_over_their_limits_and_nothing_else_is() -> None:
    for seed in range(1, 6):
        for order in storm(seed).orders:
            at = stamps(order)
            assert list(at) == [*POINTS, "cleared"]
            [*_, last] = (m for m in order.moves if m.kind is MoveKind.DISPATCH)
            crew = next(c for c in CITY.crews if c.crew_id == last.crew_id)
            for a, b in itertools.pairwise(POINTS):
                segment = a + b
                limit = LIMITS_S[segment]
                if segment == "DE" and crew.co_located:
                    limit = CO_LOCATED_DE_S
                took = at[b] - at[a]
                assert took >= 0, (order.index, segment)
                if segment == order.late_segment and order.story is not Story.ESCALATION:
                    assert took > limit, (order.index, segment, took)
                elif segment != order.late_segment:
                    assert took < limit, (order.index, segment, took)


def test_no_stamp_lies_ahead_of_its_send_and_live_stamps_stay_near_the_clock() -> None:
    s = storm(head_start_s=60)
    for order in s.orders:
        for move in order.moves:
            assert move.lag_s >= 0
            if move.point in ("A", "B", "C", "D"):
                # Within the services' default LIVE_STAMP_TOLERANCE_S (120 s).
                assert move.lag_s <= s.head_start_s + 5.5, (order.index, move)


def test_the_escalation_order_waits_for_the_ladder_before_it_is_taken_in() -> None:
    [order] = of(storm(), Story.ESCALATION)
    kinds = [m.kind for m in order.moves]
    assert kinds.index(MoveKind.AWAIT_ESCALATION) == kinds.index(MoveKind.RECEIPT) - 1
    assert [m.lag_s for m in order.moves[:2]] == [60.0, 60.0]  # A and B: a head start


def test_the_network_incident_spans_the_late_de_and_its_unit_posts_late_and_twice() -> None:
    [order] = of(storm(), Story.NETWORK_INCIDENT)
    kinds = [m.kind for m in order.moves]
    points = [m.point for m in order.moves]
    started, ended = kinds.index(MoveKind.INCIDENT_STARTED), kinds.index(MoveKind.INCIDENT_ENDED)
    assert started < points.index("D") < points.index("E") < points.index("F") < ended
    e = order.moves[points.index("E")]
    assert e.lag_s >= 10
    assert e.duplicate_after_s is not None
    crew = next(c for c in CITY.crews if c.crew_id == order.moves[points.index("D")].crew_id)
    assert crew.co_located
    assert crew.repair_center_id == storm().featured


def test_the_recall_sends_the_order_to_the_wrong_crew_first_then_to_the_right_one() -> None:
    [order] = of(storm(), Story.RECALL)
    dispatches = [m for m in order.moves if m.kind is MoveKind.DISPATCH]
    assert len(dispatches) == 2
    trades = {c.crew_id: c.trade for c in CITY.crews}
    first, second = (trades[d.crew_id or ""] for d in dispatches)
    assert first != second == order.trade
    kinds = [m.kind for m in order.moves]
    assert kinds.index(MoveKind.RECALL) < len(kinds) - kinds[::-1].index(MoveKind.DISPATCH) - 1


def test_the_evening_is_a_burst_at_the_featured_center_and_fits_in_about_three_minutes() -> None:
    s = storm()
    assert s.featured == "rc-dongcheng"
    # Its three vehicles take what they can (an order may wait in a queue); the rest spills over.
    assert sum(o.repair_center_id == s.featured for o in s.orders) >= len(s.orders) // 4
    assert max(o.start_s for o in s.orders) <= 5 + 1500 / s.speed
    assert s.planned_s() < 200
    first_dispatch = min(
        o.start_s + sum(m.gap_s for m in o.moves[: [m.point for m in o.moves].index("D") + 1])
        for o in s.orders
    )
    assert first_dispatch < 20  # the console shows orders within seconds


def test_report_ids_are_unique_and_carry_the_tag() -> None:
    s = storm()
    ids = [m.report_id for o in s.orders for m in o.moves if m.report_id is not None]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("t-") and len(i) <= 64 for i in ids)
    assert all(o.call_id.startswith("call-t-") for o in s.orders)


def test_a_prefixed_city_renames_every_reference() -> None:
    city = DemoCity.from_seed(SEED, prefix="x-")
    assert all(k.startswith("x-") for k, _ in city.centers)
    assert all(c.body["repair_center_id"] == c.repair_center_id for c in city.crews)
    assert all(v.body["crew_id"] == v.crew_id for v in city.vehicles)
    assert {v.crew_id for v in city.vehicles} <= {c.crew_id for c in city.crews}
    assert {c.repair_center_id for c in city.crews} <= {k for k, _ in city.centers}
    paths = [p for p, _ in city.definitions()]
    assert paths[0].startswith("/v1/repair-centers/")
    assert paths[-1].startswith("/v1/vehicles/")


@pytest.mark.parametrize("options", [{"speed": 0.5}, {"calls": 4}, {"ping_every_s": 0}])
def test_impossible_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        storm(**options)
