"""A running segment past its limit shows as a live breach within seconds, before its end."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import FINDINGS, WORK_ORDERS
from tests.support.desk import Desk, wait_for
from tests.support.system import System

pytestmark = pytest.mark.e2e

Json = dict[str, Any]
DE_REMOTE_LIMIT_S = 240


def open_breach(desk: Desk, wo: str, segment: str) -> Json | None:
    items: list[Json] = desk.ok(desk.get("timeline", "/v1/breaches", open="true"))["items"]
    return next((b for b in items if b["work_order_id"] == wo and b["segment"] == segment), None)


async def _records_of(system: System, event_id: str) -> list[Json]:
    topic = system.topic(FINDINGS.name)
    consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(FINDINGS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Json] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(*partitions, timeout_ms=1000)).values():
                bodies = [json.loads(r.value) for r in records if r.value is not None]
                found += [b for b in bodies if b["event_id"] == event_id]
        return found
    finally:
        await consumer.stop()


def test_a_late_de_shows_within_5_s_of_its_limit_and_closes_at_e(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    d_at = datetime.now(UTC) - timedelta(minutes=3, seconds=55)
    wo = desk.order(
        crew,
        {
            "A": d_at - timedelta(minutes=3),
            "B": d_at - timedelta(minutes=2),
            "C": d_at - timedelta(minutes=1),
            "D": d_at,
        },
    )
    limit_at = d_at + timedelta(seconds=DE_REMOTE_LIMIT_S)
    assert open_breach(desk, wo, "DE") is None, "DE is not past its limit yet"

    breach: Json = wait_for("DE open on /v1/breaches", lambda: open_breach(desk, wo, "DE"), 30)
    seen_at = datetime.now(UTC)
    assert seen_at - limit_at < timedelta(seconds=5), f"seen {seen_at - limit_at} after the limit"
    assert breach["status"] == "open"
    assert breach["limit_s"] == DE_REMOTE_LIMIT_S
    assert datetime.fromisoformat(breach["started_at"]) == d_at
    assert datetime.fromisoformat(breach["breached_at"]) == limit_at
    assert breach["responsible"] == "crew_receiver"  # no incident: the network was healthy

    desk.ok(desk.report(crew.vehicle_id, "order_received", datetime.now(UTC), wo))

    def closed() -> Json | None:
        items: list[Json] = desk.ok(desk.get("timeline", "/v1/breaches", open="false"))["items"]
        return next((b for b in items if b["event_id"] == breach["event_id"]), None)

    assert wait_for("DE closed by E", closed)["status"] == "closed"
    assert open_breach(desk, wo, "DE") is None

    def published() -> list[Json]:
        return asyncio.run(_records_of(desk.system, breach["event_id"]))

    records = wait_for("the SegmentBreached on the findings topic", published)
    assert [r["event_type"] for r in records] == ["SegmentBreached"]
    assert records[0]["work_order_id"] == wo
    assert records[0]["payload"]["segment"] == "DE"
    assert records[0]["payload"]["responsible"] == "crew_receiver"


def test_ticks_are_stored_by_no_one(desk: Desk) -> None:
    """Every service but the timeline ignores ticks, and the timeline only applies them."""

    def ticked() -> bool:
        items = desk.ok(desk.get("timeline", "/v1/breaches"))["items"]
        return isinstance(items, list)  # the service answers; ticks have been flowing

    wait_for("the timeline to answer", ticked)
    for service in ("intake", "dispatch", "timeline"):
        with psycopg.connect(desk.system.database_urls[service]) as conn:
            row = conn.execute(
                b"SELECT count(*) FROM received_events WHERE event_type = 'ClockTicked'"
            ).fetchone()
        assert row == (0,), service
    with psycopg.connect(desk.system.database_urls["timeline"]) as conn:
        clocks = conn.execute(b"SELECT count(*), max(clock) FROM partition_clocks").fetchone()
    assert clocks is not None
    assert clocks[0] == WORK_ORDERS.partitions  # every partition has its recorded clock
    assert datetime.now(UTC) - clocks[1] < timedelta(seconds=30)
