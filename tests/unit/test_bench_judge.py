"""The bench's judge-alone figure: judged over the very events the replay wrote, each once."""

from datetime import UTC, datetime

from bench.figures import judge_alone
from contracts import WorkOrderEvent
from simulator.city import make_city
from simulator.plan import make_plan
from simulator.to_kafka import in_recorded_order

CITY = make_city(3, centers=2, crews_per_center=2)
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_first_orders_alone_give_the_events_the_whole_history_wrote_for_them() -> None:
    plan = make_plan(CITY, 5, rate=0.5, orders=40, duplicate_share=0.2)
    whole = [e.to_json() for e in in_recorded_order(plan.orders, (), ANCHOR, 5)]
    sample = [e.to_json() for e in in_recorded_order(plan.orders[:10], (), ANCHOR, 5)]
    assert len(sample) >= 90
    theirs = set(sample)
    assert [e for e in whole if e in theirs] == sample


def test_each_distinct_event_is_judged_once_and_timed() -> None:
    plan = make_plan(CITY, 6, rate=0.5, orders=12, duplicate_share=0.3)
    events = list(in_recorded_order(plan.orders, (), ANCHOR, 6))
    distinct = {e.event_id for e in events if isinstance(e, WorkOrderEvent)}
    assert len(distinct) < len(events)  # some were published twice
    alone = judge_alone(events)
    assert (alone["events"], alone["orders"]) == (len(distinct), len(plan.orders))
    assert alone["cpu_s"] > 0
    # the rate is of the unrounded CPU seconds
    slowest, fastest = (alone["events"] / (alone["cpu_s"] + d) for d in (0.0005, -0.0005))
    assert slowest <= alone["events_per_s"] <= fastest
