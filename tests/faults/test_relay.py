"""The relay killed between publishing to Kafka and marking the outbox row published; and what
wakes a relay for a position report, which does not NOTIFY.

No hook in the service: PostgreSQL itself holds the relay there. A BEFORE UPDATE trigger on
dispatch's outbox sleeps while the row's event is one we named in ``fault_hold``; the relay has
sent the batch to Kafka and waits for its acks before the UPDATE, so the event is in Kafka while
its row is unpublished. Then dispatch is killed -9, the hold released and dispatch restarted: the
relay publishes the event again (a duplicate Kafka record) and the timeline applies it once.
"""

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import WORK_ORDERS
from services.common.outbox_relay import RELAY_LOCK_KEY
from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import Desk, wait_for
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


def test_a_position_report_wakes_its_relay_and_a_relay_kept_out_tries_again(
    faults: Faults,
) -> None:
    """A position report does not NOTIFY (issue 9: a notifying commit takes a database-wide
    lock). Dispatch alone on its database, its idle poll an hour long: only the wake from the
    process that recorded the report publishes its row, and, while the test holds the relay's
    lock, only the relay trying the lock again once it is free."""
    dispatch = faults.process("dispatch")
    database = faults.system.database_urls["dispatch"]
    vehicle = faults.desk.crew(co_located=False).vehicle_id  # its token accepted by dispatch
    dispatch.terminate()
    solo = faults.stack.add("dispatch-no-poll", "dispatch", database, RELAY_IDLE_POLL_S="3600")
    try:
        solo.wait_ready()
        urls = {**faults.system.urls, "dispatch": solo.url}
        desk = Desk(dataclasses.replace(faults.system, urls=urls), faults.http)

        def position() -> str:
            answer = desk.ok(desk.report(vehicle, "position", datetime.now(UTC)))
            return str(answer["event_id"])

        woken = position()
        wait_for(f"position {woken} published", lambda: published_at(database, woken), timeout_s=20)

        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s::bigint)", (RELAY_LOCK_KEY,))
            kept_out = position()  # its wake finds the lock taken
            time.sleep(1)
            assert published_at(database, kept_out) is None, "published under the test's lock"
            conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (RELAY_LOCK_KEY,))
        wait_for(
            f"position {kept_out} published once the lock was free",
            lambda: published_at(database, kept_out),
            timeout_s=20,
        )
    finally:
        faults.stack.remove("dispatch-no-poll")
        dispatch.start().wait_ready()
