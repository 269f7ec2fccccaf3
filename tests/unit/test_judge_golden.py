"""The judge's answers are pinned: the speed-up of issue 9 changed none of them.

For the simulator's orders (several seeds; late segments, late and duplicated posts; a second
policy version taking effect part-way; network incidents on some seeds) every prefix of every
order is judged as the projection judges it (at the consumed event's record) and again later,
and everything the services keep of a judgement (the ``Timeline`` as JSON, ``timeline_hash``,
``live_breaches``) goes into one digest per seed. The digests were taken from the judge as it
stood before the speed-up and checked, during it, against a frozen copy of that judge over these
orders and the generated scenarios of ``test_timeline_properties`` (commit 08074a3,
tests/unit/test_judge_equivalence.py and reference_judge/). A change to
what the judge answers must change a digest here, on purpose, with its reason in the commit.
"""

import hashlib
import random
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

import pytest

from contracts.envelope import WorkOrderEvent
from contracts.network import Link, NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.findings import live_breaches, timeline_hash
from domain.policy import DEFAULT_POLICY, PolicyBook, Responsible, Segment
from domain.timeline import judge
from simulator.city import make_city
from simulator.plan import iter_orders
from simulator.to_kafka import in_recorded_order
from tests.unit.factories import incident

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
"""Another version with other numbers and parties, for the orders begun after it took effect."""
BOOK = PolicyBook([DEFAULT_POLICY, STRICT])

GOLDEN = {
    # seed, orders, late segments, late posts, duplicated posts: digest
    (1, 40, 0.1, 0.05, 0.05): "48190eeb466c369d2753f1dc3905a76b458090d9a6989c2d4ac6b1a17f4f5a57",
    (2, 30, 0.5, 0.3, 0.3): "d021eed474a0ea7085634a26d22a4086e8b3871457592d8a621367f353a0d7a9",
    (3, 30, 0.0, 0.0, 0.0): "79cb3aba043e5d89947b62c3df4e8252bfaf6298a9d120b8fc7ac0de39a3b5ed",
    (4, 30, 0.9, 0.6, 0.5): "f4bf509ea84407a12de59a490845949bb16648283f2730d40b923b8032f33e1e",
}


def simulated(
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


def incidents_of(seed: int) -> list[NetworkIncidentPayload]:
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


def digest(config: tuple[int, int, float, float, float]) -> str:
    """Every judgement of the seed's orders, as the projection and a later tick ask them."""
    seed = config[0]
    rng = random.Random(seed)
    incidents = incidents_of(seed) if seed % 2 == 0 else []
    by_order: dict[UUID, list[WorkOrderEventT]] = defaultdict(list)
    sha = hashlib.sha256()
    for event in simulated(*config):
        known = by_order[event.work_order_id]
        known.append(event)
        ordered = sorted(known, key=lambda e: (e.recorded_at, e.event_id))
        later = event.recorded_at + timedelta(seconds=rng.choice([1, 90, 400, 3000]))
        for events, now in ((ordered, event.recorded_at), (known, later)):
            answer = judge(event.work_order_id, events, BOOK, now, incidents)
            sha.update(answer.model_dump_json().encode())
            sha.update(timeline_hash(answer).encode())
            sha.update(repr([asdict(b) for b in live_breaches(answer)]).encode())
    return sha.hexdigest()


@pytest.mark.parametrize("config", list(GOLDEN))
def test_the_simulators_orders_are_judged_as_before(
    config: tuple[int, int, float, float, float],
) -> None:
    assert digest(config) == GOLDEN[config]
