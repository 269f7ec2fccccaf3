"""The projection on real PostgreSQL: judged at the recorded clock, whatever the interleaving.

These drive the projection's consumer effect directly (the very function the live consumer and
the replay check call) with records as Kafka would deliver them, so that the interleavings that
matter can be chosen; the services over HTTP are the replay check's business.
"""

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import psycopg
import pytest

from contracts import AnyEvent, Link, NetworkIncidentRecorded
from contracts.clock import ClockTicked, ClockTickedPayload
from domain.findings import breach_event_id, timeline_hash
from domain.policy import Point, Segment
from services.common.consumer import Consumed, apply_consumed
from services.common.db import create_pool, migrate
from services.timeline import projection, store
from services.timeline.app import MIGRATIONS
from services.timeline.judging import judged, policy_book
from tests.support.infra import Infra
from tests.unit.factories import CORRELATION, WO, event, incident, minutes

pytestmark = pytest.mark.integration

PREFIX = "projection-test."
WORK_ORDERS = f"{PREFIX}repair.work-orders.v1"
NETWORK = f"{PREFIX}repair.network.v1"
BOOK = policy_book()
LATE = minutes(7) + timedelta(seconds=1)


@pytest.fixture
def databases(infra: Infra) -> Iterator[list[str]]:
    """Two fresh, migrated databases (one per interleaving), dropped afterwards."""
    names = [f"test_projection_{uuid4().hex[:8]}" for _ in range(2)]
    base = infra.postgres_url.rsplit("/", 1)[0]
    with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


class Feed:
    """Records as the consumer sees them: an offset per topic and partition, in order."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, int], int] = {}

    def at(self, topic: str, partition: int = 0) -> Consumed:
        offset = self.offsets.get((topic, partition), -1) + 1
        self.offsets[topic, partition] = offset
        return Consumed(topic, partition, offset)


def tick(at: datetime, partition: int = 0) -> ClockTicked:
    return ClockTicked(
        occurred_at=at,
        recorded_at=at,
        source="timeline",
        correlation_id=uuid4(),
        payload=ClockTickedPayload(partition=partition, at=at),
    )


def recorded_incident(started: datetime, recorded: datetime) -> NetworkIncidentRecorded:
    return NetworkIncidentRecorded(
        occurred_at=started,
        recorded_at=recorded,
        source="comms-dept",
        correlation_id=CORRELATION,
        payload=incident(Link.CUSTOMER_SERVICE_TO_REPAIR_CENTER, started),
    )


@pytest.fixture
async def pools(databases: list[str]) -> AsyncIterator[list[asyncpg.Pool]]:
    made = []
    for url in databases:
        await migrate(url, MIGRATIONS)
        made.append(await create_pool(url))
    try:
        yield made
    finally:
        for pool in made:
            await pool.close()


async def feed(pool: asyncpg.Pool, records: Sequence[tuple[AnyEvent, Consumed]]) -> None:
    subscription = projection.subscription(PREFIX, WORK_ORDERS, BOOK)
    for consumed, where in records:
        async with pool.acquire() as conn, conn.transaction():
            await apply_consumed(conn, subscription, consumed, where)


async def rows(pool: asyncpg.Pool, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(sql, *args)]


def on_work_orders(feed_: Feed, events: Sequence[AnyEvent]) -> list[tuple[AnyEvent, Consumed]]:
    return [(e, feed_.at(WORK_ORDERS)) for e in events]


async def test_an_incident_counts_the_same_before_or_after_the_orders_events(
    pools: list[asyncpg.Pool],
) -> None:
    # BC runs 6 minutes (limit 4) during an incident on its link, recorded before C was.
    order = [event(Point.A, minutes(0)), event(Point.B, minutes(1)), event(Point.C, minutes(7))]
    outage = recorded_incident(started=minutes(1.5), recorded=minutes(3))
    feed_ = Feed()
    order_records = on_work_orders(feed_, order)
    incident_record = (outage, feed_.at(NETWORK))
    await feed(pools[0], [incident_record, *order_records])  # the incident first
    await feed(pools[1], [*order_records, incident_record])  # the incident last
    sql = "SELECT work_order_id, judged_at, hash FROM order_projection"
    first, last = [await rows(p, sql) for p in pools]
    assert first == last
    [row] = first
    assert row["judged_at"] == order[-1].recorded_at  # the partition's clock: C's record
    async with pools[0].acquire() as conn:
        events = await store.order_events(conn, WO)
        incidents = await store.incidents_as_of(conn, row["judged_at"])
    answer = judged(WO, events, BOOK, row["judged_at"], incidents)
    assert timeline_hash(answer) == row["hash"]
    bc = next(s for s in answer.segments if s.segment is Segment.BC)
    assert (bc.status.value, bc.responsible) == ("breached", "network")


async def test_ticks_find_a_running_breach_once_and_its_end_closes_it(
    pools: list[asyncpg.Pool],
) -> None:
    pool = pools[0]
    start = [event(Point(p), minutes(m)) for p, m in (("A", 0), ("B", 1), ("C", 2), ("D", 3))]
    feed_ = Feed()
    records = on_work_orders(feed_, start)
    d_recorded = start[-1].recorded_at
    records += [(tick(minutes(6)), feed_.at(WORK_ORDERS))]  # DE (≤ 4 min remote) not yet late
    await feed(pool, records)
    assert await rows(pool, "SELECT * FROM breaches") == []
    [due] = await rows(pool, "SELECT next_due_at FROM order_projection")
    assert due["next_due_at"] == minutes(7)

    late = [
        (tick(minutes(7)), feed_.at(WORK_ORDERS)),  # at the limit: not past it yet
        (tick(LATE), feed_.at(WORK_ORDERS)),
        (tick(LATE), feed_.at(WORK_ORDERS)),  # a second instance's tick: a no-op
        (tick(minutes(6.5)), feed_.at(WORK_ORDERS)),  # an older one: a no-op too
    ]
    await feed(pool, late)
    [breach] = await rows(pool, "SELECT * FROM breaches")
    assert breach["event_id"] == breach_event_id(WO, Segment.DE, 1)
    assert (breach["segment"], breach["status"], breach["responsible"]) == (
        "DE",
        "open",
        "crew_receiver",
    )
    assert breach["breached_at"] == minutes(7)
    published = await rows(
        pool,
        "SELECT e.event_type, e.recorded_at, o.topic FROM events e JOIN outbox o USING (event_id)",
    )
    assert published == [
        {
            "event_type": "SegmentBreached",
            "recorded_at": LATE,  # the recorded clock that saw it, not the wall clock
            "topic": f"{PREFIX}repair.findings.v1",
        }
    ]
    assert d_recorded < minutes(7)

    await feed(pool, on_work_orders(feed_, [event(Point.E, minutes(8))]))
    [closed] = await rows(pool, "SELECT status, closed_at FROM breaches")
    assert closed == {"status": "closed", "closed_at": minutes(8) + timedelta(seconds=5)}
    [clock] = await rows(pool, "SELECT clock, last_offset FROM partition_clocks")
    assert clock == {"clock": minutes(8) + timedelta(seconds=5), "last_offset": 9}
    assert await rows(pool, "SELECT count(*) AS n FROM received_events") == [{"n": 5}]  # no ticks
