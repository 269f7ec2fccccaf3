"""A partition's batch in one transaction leaves exactly what one event at a time leaves (ADR 0012).

The same records (a simulated evening: late segments, late and duplicated unit posts, ticks on
every partition, network incidents between them, redeliveries) go into one database one record
per transaction, and into others in batches of assorted sizes: with the order memory kept between
batches, with a memory too small to hold anything, and with batches that fail half-way and are
rolled back before they are applied again. Every table the projection writes must be equal.
"""

import random
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import psycopg
import pytest

from contracts import AnyEvent, Link, NetworkIncidentRecorded, parse_event
from services.common.consumer import Consumed, Subscription, apply_consumed, apply_consumed_batch
from services.common.db import create_pool, migrate
from services.timeline import projection
from services.timeline.app import MIGRATIONS
from services.timeline.judging import policy_book
from simulator.city import make_city
from simulator.plan import iter_orders
from simulator.to_kafka import in_recorded_order
from tests.integration.test_projection import tick
from tests.support.infra import Infra
from tests.unit.factories import CORRELATION, incident

pytestmark = pytest.mark.integration

PREFIX = "batches-test."
WORK_ORDERS = f"{PREFIX}repair.work-orders.v1"
NETWORK = f"{PREFIX}repair.network.v1"
PARTITIONS = 6
BOOK = policy_book()
ANCHOR = datetime(2026, 11, 20, 18, tzinfo=UTC)

TABLES = {
    "order_projection": "SELECT * FROM order_projection ORDER BY work_order_id",
    "order_segments": "SELECT * FROM order_segments ORDER BY work_order_id, segment",
    "breaches": "SELECT * FROM breaches ORDER BY event_id",
    "partition_clocks": "SELECT * FROM partition_clocks ORDER BY kafka_partition",
    "received_events": "SELECT event_id, event_type, work_order_id, occurred_at, recorded_at, "
    "topic, kafka_partition, kafka_offset, body FROM received_events ORDER BY event_id",
    "published": "SELECT e.event_id, e.stream_id, e.version, e.body, o.topic "
    "FROM events e JOIN outbox o USING (event_id) ORDER BY e.stream_id, e.version",
}


def records(seed: int) -> list[tuple[AnyEvent, Consumed]]:
    """An evening of orders as Kafka would deliver them: keyed to partitions, ticks between
    them, two incidents on the network topic, and some records delivered twice."""
    rng = random.Random(seed)
    city = make_city(seed, centers=3, crews_per_center=3)
    orders = list(
        iter_orders(city, seed, rate=1 / 40, orders=60, late_share=0.3, late_post_share=0.2)
    )
    # Through JSON, as the consumer gets them.
    events = [parse_event(e.to_json()) for e in in_recorded_order(orders, (), ANCHOR, seed)]
    offsets: dict[tuple[str, int], int] = {}

    def at(topic: str, partition: int) -> Consumed:
        offset = offsets[topic, partition] = offsets.get((topic, partition), -1) + 1
        return Consumed(topic, partition, offset)

    out: list[tuple[AnyEvent, Consumed]] = []
    centers = [rc.repair_center_id for rc in city.repair_centers]
    incidents_at = {len(events) // 3: 0, 2 * len(events) // 3: 1}
    for n, event in enumerate(events):
        partition = zlib.crc32(event.partition_key.encode()) % PARTITIONS
        out.append((event, at(WORK_ORDERS, partition)))
        if rng.random() < 0.05:
            out.append((event, at(WORK_ORDERS, partition)))  # redelivered
        if n % 25 == 0:
            tick_at = event.recorded_at + timedelta(minutes=rng.choice((1, 5, 20)))
            for p in range(PARTITIONS):
                out.append((tick(tick_at, p), at(WORK_ORDERS, p)))
        if n in incidents_at:
            started = event.recorded_at - timedelta(minutes=10)
            link = (Link.CUSTOMER_SERVICE_TO_REPAIR_CENTER, Link.REPAIR_CENTER_TO_CREW)[
                incidents_at[n]
            ]
            out.append(
                (
                    _incident(started, event.recorded_at, centers[incidents_at[n]], link),
                    at(NETWORK, 0),
                )
            )
    return out


def _incident(
    started: datetime, recorded: datetime, repair_center_id: str, link: Link
) -> NetworkIncidentRecorded:
    return NetworkIncidentRecorded(
        occurred_at=started,
        recorded_at=recorded,
        source="comms-dept",
        correlation_id=CORRELATION,
        payload=incident(
            link, started, incident_id=f"inc-{repair_center_id}", repair_center_id=repair_center_id
        ),
    )


def runs(items: Sequence[tuple[AnyEvent, Consumed]], rng: random.Random) -> Iterator[list[Any]]:
    """Consecutive records of one topic and partition, cut into batches of 1 to 40, as
    ``getmany`` hands them over (in the order they were produced overall)."""
    batch: list[tuple[AnyEvent, Consumed]] = []
    limit = rng.randint(1, 40)
    for item in items:
        if batch and (
            (batch[-1][1].topic, batch[-1][1].partition) != (item[1].topic, item[1].partition)
            or len(batch) >= limit
        ):
            yield batch
            batch, limit = [], rng.randint(1, 40)
        batch.append(item)
    if batch:
        yield batch


class Boom(Exception):
    """A failure half-way through a batch: the transaction is rolled back."""


@pytest.fixture
async def pools(infra: Infra) -> AsyncIterator[list[asyncpg.Pool]]:
    names = [f"test_batches_{uuid4().hex[:8]}" for _ in range(4)]
    base = infra.postgres_url.rsplit("/", 1)[0]
    with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    made = []
    try:
        for name in names:
            await migrate(f"{base}/{name}", MIGRATIONS)
            made.append(await create_pool(f"{base}/{name}"))
        yield made
    finally:
        for pool in made:
            await pool.close()
        with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


async def one_at_a_time(pool: asyncpg.Pool, items: Sequence[tuple[AnyEvent, Consumed]]) -> None:
    subscription = projection.subscription(PREFIX, WORK_ORDERS, BOOK)
    for event, where in items:
        async with pool.acquire() as conn, conn.transaction():
            await apply_consumed(conn, subscription, event, where)


async def in_batches(
    pool: asyncpg.Pool,
    items: Sequence[tuple[AnyEvent, Consumed]],
    subscription: Subscription,
    seed: int,
    fail_share: float = 0.0,
) -> None:
    rng = random.Random(seed)
    for batch in runs(items, rng):
        if fail_share and rng.random() < fail_share:
            with pytest.raises(Boom):
                await half_way(pool, subscription, batch[: rng.randint(1, len(batch))])
        async with pool.acquire() as conn, conn.transaction():
            await apply_consumed_batch(conn, subscription, batch)


async def half_way(
    pool: asyncpg.Pool, subscription: Subscription, batch: Sequence[tuple[AnyEvent, Consumed]]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await apply_consumed_batch(conn, subscription, batch)
        raise Boom


async def tables(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    async with pool.acquire() as conn:
        return {name: [dict(r) for r in await conn.fetch(sql)] for name, sql in TABLES.items()}


async def test_batches_leave_what_one_at_a_time_leaves(pools: list[asyncpg.Pool]) -> None:
    items = records(seed=7)
    await one_at_a_time(pools[0], items)
    await in_batches(pools[1], items, projection.subscription(PREFIX, WORK_ORDERS, BOOK), 1)
    forgetful = projection.subscription(PREFIX, WORK_ORDERS, BOOK, remembered=1)
    await in_batches(pools[2], items, forgetful, 2)
    await in_batches(
        pools[3], items, projection.subscription(PREFIX, WORK_ORDERS, BOOK), 3, fail_share=0.2
    )
    expected = await tables(pools[0])
    # The evening exercises what matters: breaches opened, published, closed by their ends.
    assert len(expected["published"]) == len(expected["breaches"]) > 5
    assert {b["status"] for b in expected["breaches"]} == {"closed"}
    assert len(expected["order_projection"]) == 60
    for pool in pools[1:]:
        found = await tables(pool)
        for name in TABLES:
            assert found[name] == expected[name], name
