"""The fast judge (issue 9) gives the very answers of the judge it replaced.

``tests/unit/reference_judge`` is a frozen copy of ``domain.timeline`` and ``domain.findings`` as
they stood before the speed-up. Every order here is judged by both at every prefix of its events
(as the projection judges it, one event at a time) and at other instants, and everything the
services keep of a judgement must be equal: the ``Timeline`` (as a model and as JSON),
``projection_row``, ``timeline_hash`` and ``live_breaches``. The orders come from the simulator
(several seeds, late segments, late and duplicated posts, a second policy version, incidents) and
from the generated scenarios of ``test_timeline_properties`` (gaps, conflicting reports, clocks
ahead, recalls and re-dispatches, ignored recalls, orphan reports).
"""

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import WorkOrderEvent
from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.findings import live_breaches, projection_row, timeline_hash
from domain.policy import DEFAULT_POLICY, Point, PolicyBook, Responsible, Segment
from domain.timeline import Timeline, compute_timeline, judge, judge_under
from simulator.city import make_city
from simulator.plan import iter_orders
from simulator.to_kafka import in_recorded_order
from tests.unit import reference_judge as ref
from tests.unit.factories import T0, WO, incident
from tests.unit.test_timeline_properties import (
    Scenario,
    attempt_scenarios,
    paced_scenarios,
    scenarios,
    skewed_scenarios,
)

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)

STRICT = DEFAULT_POLICY.model_copy(
    update={
        "version": "strict",
        "effective_from": ANCHOR + timedelta(minutes=40),
        "limits_s": {**DEFAULT_POLICY.limits_s, Segment.CD: 60, Segment.GH: 900},
        "de_co_located_limit_s": 60,
        "de_remote_limit_s": 90,
        "total_limit_s": 1800,
        "record_gap_tolerance_s": 5,
        "late_report_s": 30,
        "clock_ahead_tolerance_s": 0,
        "parties": {**DEFAULT_POLICY.parties, Segment.BC: Responsible.CUSTOMER_SERVICE_CENTER},
    }
)
"""Another version with other numbers and parties: orders begun after it took effect are
judged by it, and the generated scenarios are re-judged under it."""

BOOK = PolicyBook([DEFAULT_POLICY, STRICT])


def assert_same_judgement(new: Timeline, old: Timeline) -> None:
    """Everything kept of a judgement is equal, field by field and byte for byte."""
    assert new == old
    assert new.model_dump_json() == old.model_dump_json()
    assert timeline_hash(new) == ref.timeline_hash(old)
    # The frozen copy has its own dataclasses: compared as the fields they hold.
    assert asdict(projection_row(new)) == asdict(ref.projection_row(old))
    assert [asdict(b) for b in live_breaches(new)] == [asdict(b) for b in ref.live_breaches(old)]


def assert_judged_alike(
    work_order_id: UUID,
    events: Sequence[WorkOrderEventT],
    now: datetime,
    incidents: Sequence[NetworkIncidentPayload] = (),
) -> Timeline:
    new = judge(work_order_id, events, BOOK, now, incidents)
    assert_same_judgement(new, ref.judge(work_order_id, events, BOOK, now, incidents))
    return new


# -- The simulator's orders, judged at every prefix as the projection consumes them --------------

_SIMULATED = [
    # seed, orders, late segments, late posts, duplicated posts
    (1, 40, 0.1, 0.05, 0.05),
    (2, 30, 0.5, 0.3, 0.3),
    (3, 30, 0.0, 0.0, 0.0),
    (4, 30, 0.9, 0.6, 0.5),
]


def _simulated(
    seed: int, orders: int, late: float, late_posts: float, duplicates: float
) -> list[WorkOrderEventT]:
    city = make_city(seed, centers=3, crews_per_center=3, vehicles_per_crew=2)
    plans = iter_orders(
        city,
        seed,
        rate=1 / 120,
        orders=orders,
        late_share=late,
        late_post_share=late_posts,
        duplicate_share=duplicates,
        tag=f"eq{seed}",
    )
    events = in_recorded_order(plans, (), ANCHOR, seed)
    return [cast(WorkOrderEventT, e) for e in events if isinstance(e, WorkOrderEvent)]


def _incidents(seed: int) -> list[NetworkIncidentPayload]:
    """A few incidents over the run on either link, some scoped, one still open."""
    rng = random.Random(f"incidents:{seed}")
    found = []
    for n in range(4):
        start = ANCHOR + timedelta(seconds=rng.uniform(0, 3600))
        found.append(
            incident(
                rng.choice(list(Link)),
                start,
                None if n == 3 else start + timedelta(seconds=rng.uniform(30, 900)),
                incident_id=f"inc-{seed}-{n}",
                repair_center_id=rng.choice([None, None, f"sim-s{seed}-rc000", "rc-elsewhere"]),
            )
        )
    return found


@pytest.mark.parametrize(("seed", "orders", "late", "late_posts", "duplicates"), _SIMULATED)
def test_the_simulators_orders_are_judged_alike_at_every_prefix(
    seed: int, orders: int, late: float, late_posts: float, duplicates: float
) -> None:
    rng = random.Random(seed)
    incidents = _incidents(seed) if seed % 2 == 0 else []
    by_order: dict[UUID, list[WorkOrderEventT]] = defaultdict(list)
    judged = 0
    for event in _simulated(seed, orders, late, late_posts, duplicates):
        known = by_order[event.work_order_id]
        known.append(event)
        # As the projection judges: at the consumed event's record, the events in record order.
        ordered = sorted(known, key=lambda e: (e.recorded_at, e.event_id))
        assert_judged_alike(event.work_order_id, ordered, event.recorded_at, incidents)
        # And later (a tick, a live breach), in the order they came, against the incidents.
        later = event.recorded_at + timedelta(seconds=rng.choice([1, 90, 400, 3000]))
        assert_judged_alike(event.work_order_id, known, later, incidents)
        judged += 2
    assert judged > 8 * orders  # every order, every event


# -- Generated orders: every prefix in record order, other instants, any input order ------------

_ANY = scenarios() | paced_scenarios() | skewed_scenarios() | attempt_scenarios()


def _prefixes(events: Iterable[WorkOrderEventT]) -> list[list[WorkOrderEventT]]:
    ordered = sorted(events, key=lambda e: (e.recorded_at, e.event_id))
    return [ordered[: n + 1] for n in range(len(ordered))]


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_generated_orders_are_judged_alike_at_every_prefix(scenario: Scenario) -> None:
    for prefix in _prefixes(scenario.events):
        last = prefix[-1].recorded_at
        for now in (last, scenario.now):
            assert_judged_alike(WO, prefix, now, scenario.incidents)


@settings(max_examples=200, deadline=None)
@given(_ANY, st.data())
def test_generated_orders_are_judged_alike_in_any_order_and_under_any_policy(
    scenario: Scenario, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(scenario.events))
    repeated = data.draw(st.lists(st.sampled_from(scenario.events), max_size=4)) if shuffled else []
    events = [*shuffled, *repeated]
    now = scenario.now + data.draw(st.sampled_from([timedelta(0), timedelta(hours=3)]))
    for policy in (DEFAULT_POLICY, STRICT):
        new = judge_under(WO, events, policy, now, scenario.incidents)
        old = ref.judge_under(WO, events, policy, now, scenario.incidents)
        assert_same_judgement(new, old)
        assert_same_judgement(
            compute_timeline(WO, events, policy, now, scenario.incidents),
            ref.compute_timeline(WO, events, policy, now, scenario.incidents),
        )


def test_no_events_at_all_is_judged_alike() -> None:
    assert_judged_alike(WO, [], T0)
    assert_judged_alike(WO, [], ANCHOR + timedelta(hours=1))


def test_the_refusals_are_alike() -> None:
    naive = datetime(2026, 11, 2, 8, 0)
    with pytest.raises(ValueError, match="timezone-aware") as new:
        compute_timeline(WO, [], DEFAULT_POLICY, naive)
    with pytest.raises(ValueError, match="timezone-aware") as old:
        ref.compute_timeline(WO, [], DEFAULT_POLICY, naive)
    assert str(new.value) == str(old.value)

    other = _simulated(3, 1, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="belongs to work order") as new:
        compute_timeline(WO, other, DEFAULT_POLICY, ANCHOR + timedelta(hours=2))
    with pytest.raises(ValueError, match="belongs to work order") as old:
        ref.compute_timeline(WO, other, DEFAULT_POLICY, ANCHOR + timedelta(hours=2))
    assert str(new.value) == str(old.value)


def test_the_vocabulary_keeps_its_meaning() -> None:
    """``Point``/``Segment`` helpers, precomputed now, say what they always said."""
    points = list(Point)
    assert [p.position for p in points] == list(range(8))
    for n, segment in enumerate(Segment):
        assert segment.start is Point(segment.value[0])
        assert segment.end is Point(segment.value[1])
        assert segment.position == n == segment.start.position
        assert (segment.start, segment.end) == (points[n], points[n + 1])
