"""kill -9 of each service in turn under a steady load, restarted after a moment: nothing that
was acknowledged is lost or recorded twice, and the timeline equals a clean rebuild."""

import time

import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.oracle import wait_caught_up
from tests.support.system import SERVICES

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

RATE = 3.0
"""New orders per second (nine writes each)."""
BEFORE_S, DOWN_S, AFTER_S = 8.0, 2.0, 8.0


@pytest.mark.parametrize("service", SERVICES)
def test_kill_9_and_restart_loses_nothing(faults: Faults, service: str) -> None:
    process = faults.process(service)
    timeline = faults.system.urls["timeline"]
    with faults.load(name=f"kill-{service}") as load:
        load.start_orders(RATE)
        time.sleep(BEFORE_S)  # a steady load before the fault
        process.kill9()
        time.sleep(DOWN_S)  # the supervisor's pause
        restarted_at = time.monotonic()
        process.start().wait_ready()
        ready_s = time.monotonic() - restarted_at
        caught_up_s = wait_caught_up(
            timeline, load.ledger, until=restarted_at, timeout_s=45, since=restarted_at
        )
        time.sleep(max(0.0, AFTER_S - (time.monotonic() - restarted_at)))
        ledger = load.stop()
    recovery = {
        "ready_after_restart": ready_s,
        "timeline_caught_up_after_restart": caught_up_s,
    }
    if service != "timeline":
        recovery["first_ack_after_restart"] = ledger.first_ack_after(restarted_at, service)
    summary = faults.check(f"kill -9 {service}", ledger, recovery_s=recovery)
    faults.assert_holds(summary)
    assert caught_up_s is not None, "the timeline never caught up after the restart"
