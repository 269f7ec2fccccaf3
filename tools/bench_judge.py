"""Micro-benchmark of the pure judge as the projection calls it (issue 9).

The simulator's orders, their events in the order we record them; each event consumed judges its
order on every event known so far (``judged``), then keeps what the projection keeps
(``projection_row``, ``live_breaches``). Prints µs per event, by the wall clock and by this
process's CPU time (the better figure on a shared machine), best of ``--repeat`` runs.

    uv run python -m tools.bench_judge                 # 1,000 orders, best of 3
    uv run python -m tools.bench_judge --profile 35    # and a cProfile, cumulative, top 35
"""

import argparse
import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from contracts import WorkOrderEvent, parse_event
from contracts.registry import WorkOrderEventT
from domain.findings import live_breaches, projection_row
from domain.policy import PolicyBook
from services.timeline.judging import judged, policy_book
from simulator.city import make_city
from simulator.plan import iter_orders
from simulator.to_kafka import in_recorded_order

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)


def events(orders: int, seed: int) -> list[WorkOrderEventT]:
    """The work-order events of ``orders`` simulated orders, parsed from their JSON as the
    consumer gets them, in the order we recorded them."""
    city = make_city(seed, centers=10, crews_per_center=6, vehicles_per_crew=5)
    plans = iter_orders(city, seed, rate=1000 / 86400, orders=orders, tag="mb")
    parsed = [parse_event(e.to_json()) for e in in_recorded_order(plans, (), ANCHOR, seed)]
    return [e for e in parsed if isinstance(e, WorkOrderEvent)]


def run(stream: Sequence[WorkOrderEventT], book: PolicyBook) -> int:
    """Judge each order at each of its events, as the projection does; the number judged."""
    known: dict[UUID, list[WorkOrderEventT]] = defaultdict(list)
    for event in stream:
        so_far = known[event.work_order_id]
        so_far.append(event)
        ordered = sorted(so_far, key=lambda e: (e.recorded_at, e.event_id))
        timeline = judged(event.work_order_id, ordered, book, event.recorded_at, [])
        projection_row(timeline)
        live_breaches(timeline)
    return len(stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print µs per event (and a profile when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="TOP", default=0)
    args = parser.parse_args(argv)
    stream, book = events(args.orders, args.seed), policy_book()
    wall, cpu = [], []
    for _ in range(args.repeat):
        w, c = time.perf_counter(), time.process_time()
        n = run(stream, book)
        wall.append((time.perf_counter() - w) / n * 1e6)
        cpu.append((time.process_time() - c) / n * 1e6)
    print(
        f"{len(stream)} events; judge+row+breaches {min(wall):.1f} us/event wall, "
        f"{min(cpu):.1f} us/event cpu (best of {args.repeat})"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run, stream, book)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
