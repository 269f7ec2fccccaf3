"""The simulator's plan is a function of its seed, and its schedule is an open loop."""

import asyncio
import itertools
import random
from datetime import UTC, datetime

from simulator.city import DEPARTMENTS, make_city
from simulator.plan import CO_LOCATED_DE_S, LIMITS_S, REPORT_TYPES, STEPS, Plan, make_plan
from simulator.schedule import Job, intended_times, open_loop, percentile
from simulator.to_kafka import in_recorded_order

CITY = make_city(7, centers=3, crews_per_center=4, vehicles_per_crew=2)


def plan_of(seed: int) -> Plan:
    return make_plan(CITY, seed, rate=4.0, orders=60, speed=60.0, ping_interval_s=2.0)


def test_the_same_seed_gives_the_same_city_and_plan() -> None:
    assert make_city(7, centers=3, crews_per_center=4, vehicles_per_crew=2) == CITY
    first, again = plan_of(11), plan_of(11)
    assert first == again
    assert first.fingerprint() == again.fingerprint()


def test_another_seed_gives_another_plan() -> None:
    assert plan_of(11).fingerprint() != plan_of(12).fingerprint()
    assert make_city(8, centers=3, crews_per_center=4) != make_city(
        7, centers=3, crews_per_center=4
    )


def test_the_city_covers_the_domains_trades_with_two_leaders_a_crew() -> None:
    assert {(c.department, c.trade) for c in CITY.crews} == set(DEPARTMENTS)
    assert all(len(c.body()["leaders"]) == 2 for c in CITY.crews)
    crews = {c.crew_id: c for c in CITY.crews}
    assert all(crews[v.crew_id].repair_center_id == v.repair_center_id for v in CITY.vehicles)


def test_every_order_walks_a_to_h_and_the_fault_cleared_in_order() -> None:
    plan = make_plan(CITY, 3, rate=5.0, orders=200, speed=30.0, late_share=0.2)
    for order in plan.orders:
        assert tuple(s.name for s in order.steps) == STEPS
        stamps = [s.sim_s for s in order.steps]
        assert stamps == sorted(stamps)
        # A unit post is never sent before the point it reports happened.
        assert all(s.at_s * plan.speed >= s.sim_s - 1e-3 for s in order.steps)
        assert {s.name for s in order.steps if s.report_id} == set(REPORT_TYPES)


def test_late_segments_are_over_their_limit_and_come_in_about_the_chosen_share() -> None:
    plan = make_plan(CITY, 5, rate=5.0, orders=400, late_share=0.25)
    late = on_time = 0
    for order in plan.orders:
        at = {s.name: s.sim_s for s in order.steps}
        for seg, usual in LIMITS_S.items():
            limit = CO_LOCATED_DE_S if seg == "DE" and order.co_located else usual
            took = at[seg[1]] - at[seg[0]]
            if seg in order.late_segments:
                late += 1
                assert took > limit
            else:
                on_time += 1
                assert took <= limit
    share = late / (late + on_time)
    assert 0.2 < share < 0.3


def test_pings_come_per_vehicle_at_the_interval_and_name_the_order_carried() -> None:
    plan = make_plan(CITY, 9, rate=2.0, orders=40, speed=60.0, ping_interval_s=1.5)
    by_vehicle: dict[str, list[float]] = {}
    for ping in plan.pings:
        by_vehicle.setdefault(ping.vehicle_id, []).append(ping.at_s)
    assert set(by_vehicle) == {v.vehicle_id for v in CITY.vehicles}
    for times in by_vehicle.values():
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
        assert gaps == {1.5}
    carried = [p for p in plan.pings if p.order_index is not None]
    assert carried
    for ping in carried:
        order = plan.orders[ping.order_index]  # type: ignore[index]
        assert order.vehicle_id == ping.vehicle_id
        assert order.step("D").at_s <= ping.at_s <= order.step("cleared").at_s


def test_no_stamp_is_ahead_of_the_real_clock_it_is_sent_at() -> None:
    plan = make_plan(CITY, 4, rate=3.0, orders=50, speed=100.0, ping_interval_s=1.0)
    started = datetime(2026, 3, 1, tzinfo=UTC)
    for order in plan.orders:
        for step in order.steps:
            sent = started.timestamp() + step.at_s
            assert plan.stamp(step.sim_s, started).timestamp() <= sent + 1e-6


def test_kafka_mode_writes_the_same_events_for_the_same_seed_in_recorded_order() -> None:
    plan = make_plan(CITY, 2, rate=0.5, orders=30, duplicate_share=0.2)
    anchor = datetime(2026, 3, 1, tzinfo=UTC)
    events = list(in_recorded_order(plan.orders, (), anchor, 2))
    again = list(in_recorded_order(plan.orders, (), anchor, 2))
    assert [e.to_json() for e in events] == [e.to_json() for e in again]
    recorded = [e.recorded_at for e in events]
    assert recorded == sorted(recorded)
    duplicates = sum(s.duplicate_at_s is not None for o in plan.orders for s in o.steps)
    assert len(events) == 9 * len(plan.orders) + duplicates
    assert {e.partition_key for e in events} == {str(o.work_order_id) for o in plan.orders}


def test_intended_times_are_a_constant_rate() -> None:
    assert intended_times(4.0, 5, start_s=1.0) == [1.0, 1.25, 1.5, 1.75, 2.0]


class FakeClock:
    """Time moves only when the spawner sleeps: a job that hangs holds up no clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # the jobs started so far run now, before time moves on
        self.now += seconds


async def test_open_loop_starts_each_job_on_time_whatever_the_earlier_ones_do() -> None:
    clock = FakeClock()
    never = asyncio.Event()
    starts: dict[int, tuple[float, float]] = {}

    def job(n: int) -> Job:
        async def run(intended: float) -> None:
            starts[n] = (intended, clock())
            if n == 0:
                await never.wait()  # the first answer never comes

        return Job(n * 0.5, run)

    jobs = [job(n) for n in random.Random(1).sample(range(8), 8)]  # any order in, time order out
    tasks = await open_loop(jobs, clock=clock, sleep=clock.sleep)
    await asyncio.sleep(0)
    assert sorted(starts) == list(range(8))
    for n, (intended, started) in starts.items():
        assert intended == 100.0 + n * 0.5
        assert started == intended  # nobody waited for job 0
    never.set()
    await asyncio.gather(*tasks)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) is None
