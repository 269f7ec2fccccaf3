"""The oracle can fail: on a timeline tampered with on purpose, it finds the event that was
taken away and the effect that was doubled, and the rebuild disagrees with both."""

import time

import psycopg
import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import wait_for
from tests.support.oracle import wait_caught_up

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

DUPLICATE = """
INSERT INTO received_events (event_id, event_type, work_order_id, occurred_at, recorded_at,
    received_at, topic, kafka_partition, kafka_offset, body)
SELECT new.id, event_type, work_order_id, occurred_at, recorded_at, received_at, topic,
    kafka_partition, kafka_offset, jsonb_set(body, '{event_id}', to_jsonb(new.id::text))
FROM received_events, (SELECT gen_random_uuid() AS id) AS new
WHERE event_id = %s
"""


def test_the_oracle_sees_a_lost_event_and_a_doubled_effect(faults: Faults) -> None:
    with faults.load(name="oracle-self-check") as load:
        load.start_orders(3.0)
        wait_for(
            "two orders walked",
            lambda: sum(o.done_at is not None for o in load.ledger.orders) >= 2,
            30,
        )
        ledger = load.stop()
    assert wait_caught_up(faults.system.urls["timeline"], ledger, time.monotonic(), 30) is not None
    first, second = [o for o in ledger.orders if o.done_at is not None][:2]
    lost = next(r for r in first.requests if r.step == "G")
    doubled = next(r for r in second.requests if r.step == "H")
    with psycopg.connect(faults.system.database_urls["timeline"], autocommit=True) as conn:
        conn.execute("DELETE FROM received_events WHERE event_id = %s", (lost.event_id,))
        conn.execute(DUPLICATE, (doubled.event_id,))
    # Neither the live timeline nor the rebuild will ever have all of it: do not wait long.
    summary = faults.check("oracle self-check", ledger, catch_up_s=8, publish_to_report=False)
    assert summary.missing == 1, summary.text()
    assert summary.duplicated == 1, summary.text()
    assert summary.phantoms == 1, summary.text()  # the copy: nobody was answered with its id
    assert summary.differences == 2, summary.text()  # the rebuild has G and has H once
    assert summary.present == summary.acknowledged - 2, summary.text()
