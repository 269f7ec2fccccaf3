"""The relay killed between publishing to Kafka and marking the outbox row published.

No hook in the service: PostgreSQL itself holds the relay there. A BEFORE UPDATE trigger on
dispatch's outbox sleeps while the row's event is one we named in ``fault_hold``; the relay has
sent the batch to Kafka and waits for its acks before the UPDATE, so the event is in Kafka while
its row is unpublished. Then dispatch is killed -9, the hold released and dispatch restarted: the
relay publishes the event again (a duplicate Kafka record) and the timeline applies it once.
"""

import asyncio
import json
import time
from uuid import uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import WORK_ORDERS
from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import wait_for
from tests.support.load import Order, Request, now_iso

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

RATE = 3.0
HOLD = """
CREATE TABLE fault_hold (report_id TEXT PRIMARY KEY);
CREATE FUNCTION fault_hold_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WHILE EXISTS (
        SELECT 1 FROM fault_hold h JOIN events e ON e.body->'payload'->>'report_id' = h.report_id
        WHERE e.event_id = NEW.event_id
    ) LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_hold BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION fault_hold_outbox();
"""
RELEASE = (
    # One statement at a time: the held relay must see the DELETE committed before the DROP
    # waits for its lock on the outbox.
    "SET statement_timeout = '30s'",
    "DELETE FROM fault_hold",
    "DROP TRIGGER IF EXISTS fault_hold ON outbox",
    "DROP FUNCTION IF EXISTS fault_hold_outbox()",
    "DROP TABLE IF EXISTS fault_hold",
)


async def _records_of(bootstrap: str, topic: str, event_id: str) -> int:
    """How many records of ``topic`` carry the event ``event_id`` (read from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(WORK_ORDERS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = 0
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batches.values():
                found += sum(
                    json.loads(r.value).get("event_id") == event_id
                    for r in records
                    if r.value is not None
                )
        return found
    finally:
        await consumer.stop()


def records_of(faults: Faults, event_id: str) -> int:
    topic = faults.system.topic(WORK_ORDERS.name)
    return asyncio.run(_records_of(faults.system.kafka_bootstrap, topic, event_id))


def published_at(database_url: str, event_id: str) -> object:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT published_at FROM outbox WHERE event_id = %s", (event_id,)
        ).fetchone()
    assert row is not None, f"no outbox row for {event_id}"
    return row[0]


def test_relay_killed_between_publishing_and_marking_published(faults: Faults) -> None:
    dispatch = faults.process("dispatch")
    database = faults.system.database_urls["dispatch"]
    with faults.load(name="relay") as load:
        load.start_orders(RATE)

        def walked() -> Order | None:
            return next((o for o in load.ledger.orders if o.done_at is not None), None)

        order = wait_for("an order walked to the end", walked, timeout_s=60)
        assert order.work_order_id is not None
        held = f"held-{uuid4().hex}"
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(HOLD)
            conn.execute("INSERT INTO fault_hold VALUES (%s)", (held,))
        try:
            report = load.send(
                Request(
                    "cleared",
                    "dispatch",
                    f"/v1/vehicles/{order.crew.vehicle_id}/reports",
                    {
                        "report_id": held,
                        "type": "fault_cleared",
                        "occurred_at": now_iso(),
                        "work_order_id": order.work_order_id,
                    },
                    work_order_id=order.work_order_id,
                    report_id=held,
                    vehicle_id=order.crew.vehicle_id,
                ),
                order,
            )
            assert report.event_id is not None, f"the held report was not acknowledged: {report}"
            event_id = report.event_id
            wait_for(
                f"event {event_id} in Kafka", lambda: records_of(faults, event_id), timeout_s=30
            )
            assert published_at(database, event_id) is None, "the outbox row was marked anyway"
            time.sleep(3)  # the load goes on against a relay that is stuck
            dispatch.kill9()
            killed_at = time.monotonic()
        finally:
            with psycopg.connect(database, autocommit=True) as conn:
                for statement in RELEASE:
                    conn.execute(statement.encode())
        # The relay's transaction died with its client: the row is still unpublished.
        assert published_at(database, event_id) is None
        time.sleep(max(0.0, 2.0 - (time.monotonic() - killed_at)))
        restarted_at = time.monotonic()
        dispatch.start().wait_ready()
        wait_for(
            f"outbox row of {event_id} published again",
            lambda: published_at(database, event_id) is not None,
            timeout_s=60,
        )
        republished_s = time.monotonic() - restarted_at
        time.sleep(5)
        ledger = load.stop()
    copies = records_of(faults, event_id)
    summary = faults.check(
        "relay killed between publish and mark",
        ledger,
        recovery_s={
            "republished_after_restart": republished_s,
            "first_ack_after_restart": ledger.first_ack_after(restarted_at, "dispatch"),
        },
        extra={"held_event": event_id, "kafka_records_of_held_event": copies},
    )
    faults.assert_holds(summary)
    assert copies >= 2, f"event {event_id} is in Kafka {copies} times; it was not republished"
