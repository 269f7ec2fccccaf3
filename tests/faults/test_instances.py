"""Two timeline instances in one consumer group; one is killed -9 mid-stream and the other takes
its partitions over: nothing acknowledged is lost or applied twice."""

import time

import pytest

from contracts.topics import ACCESS, ESCALATIONS, NETWORK, WORK_ORDERS
from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import wait_for
from tests.support.groups import Group, describe_group
from tests.support.oracle import wait_caught_up

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

RATE = 3.0
BEFORE_S, AFTER_S = 8.0, 8.0
PARTITIONS = sum(t.partitions for t in (WORK_ORDERS, NETWORK, ESCALATIONS, ACCESS))
"""What the timeline's group consumes."""


def describe(faults: Faults) -> Group:
    return describe_group(faults.system.kafka_bootstrap, f"{faults.system.topic_prefix}timeline")


def settled_with(faults: Faults, members: int) -> Group | None:
    """The group once it is stable with ``members`` members sharing every partition."""
    group = describe(faults)
    stable = group.state == "Stable" and len(group.members) == members
    shared = all(group.members.values()) and sum(group.members.values()) == PARTITIONS
    return group if stable and shared else None


def test_two_timelines_in_one_group_one_killed(faults: Faults) -> None:
    timeline = faults.system.urls["timeline"]
    second = faults.add_timeline("timeline-2")
    try:
        joined = wait_for(
            "two timelines sharing the partitions", lambda: settled_with(faults, 2), 60
        )
        with faults.load(name="two-timelines") as load:
            load.start_orders(RATE)
            time.sleep(BEFORE_S)
            before_kill = describe(faults)
            second.kill9()
            killed_at = time.monotonic()
            wait_for("the survivor to own every partition", lambda: settled_with(faults, 1), 90)
            takeover_s = time.monotonic() - killed_at
            caught_up_s = wait_caught_up(
                timeline, load.ledger, until=killed_at, timeout_s=45, since=killed_at
            )
            time.sleep(max(0.0, AFTER_S - (time.monotonic() - killed_at)))
            ledger = load.stop()
    finally:
        faults.stack.remove("timeline-2")
    summary = faults.check(
        "two timelines, one killed",
        ledger,
        recovery_s={"takeover": takeover_s, "caught_up_after_kill": caught_up_s},
        extra={
            "partitions_before_kill": list(joined.members.values()),
            "group_before_kill": before_kill.state,
        },
    )
    faults.assert_holds(summary, logs=("timeline", "timeline-2"))
