"""The four figures, each measured beside its ceiling in the same run.

``ingest``: unit position reports posted by a closed loop of ``connections`` units, against the
same database transactions issued straight through asyncpg at the same concurrency. ``e2e``: an
order's ``arrived`` answered → the timeline answering with H, under a background of position
reports. ``replay``: a fresh timeline rebuilding from offset 0, against a bare aiokafka consumer
reading the same topics. ``query``: the timeline's GET on the rebuilt projection, and the day's
summary report.
"""

import asyncio
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict

from bench.machine import CpuMeter
from contracts import Envelope, Position, WorkOrderEvent
from contracts.registry import WorkOrderEventT
from contracts.topics import ACCESS, NETWORK, WORK_ORDERS
from services.common.db import create_pool
from services.common.runtime import settle_collector
from services.dispatch import positions
from services.dispatch.api_models import PositionReport
from services.dispatch.reports import REPORTS, vehicle_story
from services.timeline.judging import judged, policy_book
from simulator.city import City
from simulator.client import NO_ANSWER, Http
from simulator.driver import Driver, Urls
from simulator.plan import OrderPlan, iter_orders, make_plan
from simulator.schedule import percentile
from simulator.to_kafka import in_recorded_order, write
from simulator.tokens import Tokens, bearer
from tests.support.infra import Infra
from tests.support.keys import Keyring
from tests.support.system import Stack
from tools import bench_reports

Json = dict[str, Any]
REPLAYED = (WORK_ORDERS, NETWORK, ACCESS)
"""What the timeline consumes (its own topics and the access tokens every service reads)."""
EVENTS_PER_ORDER = 9.25
"""A–D, E–H and the fault cleared, plus the 5 % of unit posts published twice."""
JUDGED_ORDERS = 2_000
"""Orders of the replayed history the judge alone is timed over (about 18,000 distinct events)."""


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# -- ingest ---------------------------------------------------------------------------------------


async def _closed_loop(
    workers: int, seconds: float, warm_s: float, one: Callable[[int, int], Any]
) -> tuple[float, list[float], int]:
    """``workers`` loops calling ``await one(worker, n)`` back to back; returns the rate of
    successes counted after ``warm_s``, their latencies (s), and the failures."""
    latencies: list[float] = []
    failures = 0
    counted_from = time.monotonic() + warm_s
    stop_at = counted_from + seconds

    async def loop(worker: int) -> None:
        nonlocal failures
        n = 0
        while (started := time.monotonic()) < stop_at:
            n += 1
            ok = await one(worker, n)
            ended = time.monotonic()
            if started >= counted_from and ended <= stop_at:
                if ok:
                    latencies.append(ended - started)
                else:
                    failures += 1

    await asyncio.gather(*(loop(w) for w in range(workers)))
    return len(latencies) / seconds, latencies, failures


async def ingest_http(
    dispatch_urls: list[str],
    tokens: Tokens,
    vehicles: list[str],
    connections: int,
    seconds: float,
    warm_s: float,
) -> Json:
    """Position reports over HTTP, one unit per connection, each posting as soon as answered;
    with several dispatch instances, connection ``w`` posts to instance ``w mod n``."""
    https = [
        Http(url, connections=max(1, connections // len(dispatch_urls) + 1), timeout_s=15)
        for url in dispatch_urls
    ]
    run = uuid4().hex[:8]
    statuses: dict[str, int] = {}

    async def one(worker: int, n: int) -> bool:
        vehicle = vehicles[worker % len(vehicles)]
        body = {
            "report_id": f"bench-{run}-{worker}-{n}",
            "type": "position",
            "occurred_at": datetime.now(UTC).isoformat(),
            "position": {"lat": 39.9 + (n % 100) / 1e4, "lon": 116.4},
        }
        http = https[worker % len(https)]
        try:
            answer = await http.request(
                "POST",
                f"/v1/vehicles/{vehicle}/reports",
                body,
                headers=bearer(tokens.devices.get(vehicle)),
            )
        except NO_ANSWER as err:
            statuses[type(err).__name__] = statuses.get(type(err).__name__, 0) + 1
            return False
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
        return answer.ok

    try:
        rate, latencies, failures = await _closed_loop(connections, seconds, warm_s, one)
    finally:
        for http in https:
            await http.aclose()
    return {
        "rate": round(rate, 1),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "failures": failures,
        "statuses": statuses,
    }


async def ingest_ceiling(
    database_url: str,
    topic_prefix: str,
    vehicles: list[str],
    connections: int,
    seconds: float,
    warm_s: float,
) -> Json:
    """The statement ``POST /v1/vehicles/{id}/reports`` issues for a position report
    (``services/dispatch/positions.py``: the report id claimed with its answer, the vehicle's
    position and stream version, the event and its outbox row, in one statement), with the
    same arguments, straight through asyncpg at the same concurrency."""
    pool = await create_pool(database_url, max_size=connections)  # none waits for one
    run = uuid4().hex[:8]

    async def one(worker: int, n: int) -> bool:
        vehicle = vehicles[worker % len(vehicles)]
        report = PositionReport(
            report_id=f"ceiling-{run}-{worker}-{n}",
            type="position",
            occurred_at=datetime.now(UTC),
            position=Position(lat=39.9 + (n % 100) / 1e4, lon=116.4),
        )
        scope = REPORTS.within("vehicle", vehicle)
        for _ in range(5):  # as the service: a lost race on the stream is tried again
            event = positions.position_event(
                vehicle, report, vehicle_story(vehicle), datetime.now(UTC)
            )
            arguments = positions.statement_arguments(scope, vehicle, report, event, topic_prefix)
            try:
                async with pool.acquire() as conn:
                    row = await conn.fetchrow(positions.RECORD_POSITION, *arguments)
                return row is not None and bool(row["recorded"])
            except asyncpg.UniqueViolationError:
                continue
        return False

    try:
        rate, latencies, failures = await _closed_loop(connections, seconds, warm_s, one)
    finally:
        await pool.close()
    return {
        "rate": round(rate, 1),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "failures": failures,
    }


# -- e2e ------------------------------------------------------------------------------------------


async def e2e(
    city: City, urls: Urls, tokens: Tokens, *, samples: int, background_rate: float, seed: int
) -> Json:
    """Orders walked fast (compressed time) while ``background_rate`` position reports/s go on;
    for each, from its ``arrived`` answered to the timeline's GET answering with H."""
    timeline = Http(urls.timeline, connections=32, timeout_s=10)
    auditor = bearer(tokens.auditor)
    seen: list[float] = []
    missed: list[str] = []
    tag = f"e2e{uuid4().hex[:6]}"

    async def on_ack(order: OrderPlan, wo: str, step: str, acked: float) -> None:
        if step != "H":
            return
        deadline = acked + 30
        while time.monotonic() < deadline:
            try:
                answer = await timeline.request(
                    "GET", f"/v1/work-orders/{wo}/timeline", headers=auditor
                )
                if answer.ok and answer.json()["points"].get("H"):
                    seen.append(time.monotonic() - acked)
                    return
            except NO_ANSWER:
                pass
            await asyncio.sleep(0.002)
        missed.append(wo)

    vehicles = len(city.vehicles)
    duration = samples / 1.0 + 10
    background = make_plan(
        city,
        seed,
        rate=1.0,
        orders=0,
        ping_interval_s=vehicles / background_rate,
        ping_until_s=duration,
        tag=f"{tag}bg",
    )
    foreground = make_plan(
        city,
        seed + 1,
        rate=1.0,
        orders=samples,
        speed=600.0,
        late_share=0.1,
        late_post_share=0.0,
        duplicate_share=0.0,
        tag=tag,
    )
    pinger = Driver(background, city, urls, tokens, give_up_s=30)
    walker = Driver(foreground, city, urls, tokens, give_up_s=30, on_ack=on_ack)
    watched = {"dispatch": urls.dispatch, "timeline": urls.timeline}
    try:
        stalls_before = {name: await _stall_counts(url, tokens) for name, url in watched.items()}
        bg, fg = await asyncio.gather(pinger.run(), walker.run())
        stalls = {
            name: _stalls_between(stalls_before[name], await _stall_counts(url, tokens))
            for name, url in watched.items()
        }
    finally:
        await timeline.aclose()
    pings = bg.summary()
    acked_pings = (pings["kinds"].get("ping") or {}).get("acknowledged", 0)
    return {
        "p50_ms": _ms(percentile(seen, 0.5)),
        "p99_ms": _ms(percentile(seen, 0.99)),
        "samples": len(seen),
        "missed": len(missed),
        "stalled": fg.stalled[:5],
        # Over the planned window: a background that fell behind shows as a lower rate.
        "background_rate": round(acked_pings / max(background.horizon_s, 1e-9), 1),
        "background_vehicles": vehicles,
        "background_refused": pings["refused"],
        "background_gave_up": pings["gave_up"],
        "background": pings["kinds"].get("ping"),
        "walks": fg.summary()["kinds"],
        "stalls": stalls,
    }


STALL_SERIES = ("repair_event_loop_lag_seconds", "repair_gc_pause_seconds")


Counts = dict[tuple[str, str, str], float]
"""A stall histogram's cumulative counts by ``(series, generation, le)``: ``le`` ``sum`` for
the seconds, ``generation`` empty for the loop's series."""


async def _stall_counts(url: str, tokens: Tokens) -> Counts:
    """The stall histograms' counts on the process behind ``url``."""
    http = Http(url, connections=1, timeout_s=10)
    try:
        answer = await http.request("GET", "/metrics", headers=bearer(tokens.admin))
    finally:
        await http.aclose()
    counts: Counts = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        if family.name not in STALL_SERIES:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = sample.labels["le"]
            elif sample.name.endswith("_sum"):
                le = "sum"
            else:
                continue
            counts[(family.name, sample.labels.get("generation", ""), le)] = sample.value
    return counts


def _stalls_between(before: Counts, after: Counts) -> Json:
    """What one process's event loop and collector did between two readings: the loop's wake-ups
    (ten a second) and how many were over 50 ms and 100 ms late; the collections, their total
    time and how many took over 50 ms, in all and by the oldest generation collected."""

    def delta(series: str, le: str, generation: str | None = None) -> float:
        return sum(
            value - before.get(key, 0.0)
            for key, value in after.items()
            if key[0] == series and key[2] == le and generation in (None, key[1])
        )

    loop, gc_ = STALL_SERIES
    generations = sorted({key[1] for key in after if key[0] == gc_})

    def collections(generation: str | None = None) -> Json:
        done = delta(gc_, "+Inf", generation)
        return {
            "collections": int(done),
            "seconds": round(delta(gc_, "sum", generation), 3),
            "over_50ms": int(done - delta(gc_, "0.05", generation)),
        }

    wakeups, every = delta(loop, "+Inf"), collections()
    return {
        "loop_wakeups": int(wakeups),
        "loop_late_over_50ms": int(wakeups - delta(loop, "0.05")),
        "loop_late_over_100ms": int(wakeups - delta(loop, "0.1")),
        "gc_collections": every["collections"],
        "gc_seconds": every["seconds"],
        "gc_over_50ms": every["over_50ms"],
        "gc_by_generation": {g: c for g in generations if (c := collections(g))["collections"]},
    }


# -- replay and query -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    orders: int
    events: int
    """On the topics the timeline consumes."""
    seconds: float
    anchor: datetime
    work_order_ids: list[str]
    sample: list[Envelope]
    """The events of its first ``JUDGED_ORDERS`` orders, as written (the same seed)."""


async def write_history(
    city: City,
    bootstrap: str,
    prefix: str,
    events: int,
    seed: int,
    tick: Callable[[int], None] | None = None,
) -> Written:
    """About ``events`` work-order events (a storm day of orders), straight to Kafka."""
    orders = max(1, math.ceil(events / EVENTS_PER_ORDER))
    rate = orders / 86_400  # one day of calls, whatever its size
    anchor = (datetime.now(UTC) - timedelta(days=1, hours=4)).replace(microsecond=0)
    planned = list(iter_orders(city, seed, rate=rate, orders=orders, tag=f"replay{seed}"))
    started = time.monotonic()
    counts = await write(in_recorded_order(planned, (), anchor, seed), bootstrap, prefix, tick=tick)
    took = time.monotonic() - started
    consumed = sum(n for topic, n in counts.items() if topic.endswith(WORK_ORDERS.name))
    sample = list(in_recorded_order(planned[:JUDGED_ORDERS], (), anchor, seed))
    return Written(orders, consumed, took, anchor, [str(o.work_order_id) for o in planned], sample)


def judge_alone(events: Iterable[Envelope]) -> Json:
    """The judge alone, in this process, over ``events`` (work-order events in recorded order):
    each distinct event judged once, at its own ``recorded_at``, over its order's events so far,
    as the projection judges every event it consumes (ADR 0010). No Kafka, no database, no
    rows: the most events/s one core could rebuild with this judge, timed in CPU seconds, with
    this process's collector settled as the services settle theirs (the bench's own heap, a
    million planned events, is then not traced again and again)."""
    book = policy_book()
    seen: set[UUID] = set()
    orders: dict[UUID, list[WorkOrderEventT]] = {}
    settle_collector()
    started = time.process_time()
    for event in events:
        if not isinstance(event, WorkOrderEvent) or event.event_id in seen:
            continue  # a duplicate is kept once by the consumer, so judged once
        seen.add(event.event_id)
        known = orders.setdefault(event.work_order_id, [])
        known.append(event)  # type: ignore[arg-type]  # every WorkOrderEvent is of the union
        judged(event.work_order_id, known, book, event.recorded_at, ())
    cpu_s = time.process_time() - started
    return {
        "events": len(seen),
        "orders": len(orders),
        "cpu_s": round(cpu_s, 3),
        "events_per_s": round(len(seen) / cpu_s, 1) if cpu_s > 0 else None,
    }


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in (consumer.partitions_for_topic(t) or set())
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def bare_consumer(bootstrap: str, topics: list[str]) -> Json:
    """Read ``topics`` from offset 0 to their current end with no processing at all (no group,
    nothing committed: the most a Python consumer can read here)."""
    ends = await _end_offsets(bootstrap, topics)
    total = sum(ends.values())
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    read = 0
    try:
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for tp, records in batch.items():
                read += len(records)
                if records and records[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
    finally:
        await consumer.stop()
    took = time.monotonic() - started
    return {
        "events": total,
        "read": read,
        "seconds": round(took, 3),
        "events_per_s": round(read / took, 1),
    }


async def rebuild(
    stack: Stack,
    topics: list[str],
    *,
    timeout_s: float,
    instances: int = 1,
    rss_at: tuple[float, ...] = (0.25, 1.0),
) -> Json:
    """Fresh timeline processes (``instances`` of them, one fresh database, a consumer group
    of their own, as ``Stack.add`` does for the faults tier's rebuilds: the partitions shared
    out between them, one core each), timed from their start until they have committed every
    offset that stood when they started (the group's lag over that history is 0). The peak RSS
    is the largest process's.

    After ``timeout_s`` it is stopped where it is: the rate is then what it did so far, and
    ``completed`` is false (a slow rebuild still gives a figure, and the run ends)."""
    ends = await _end_offsets(stack.infra.kafka_bootstrap, topics)
    total = sum(ends.values())
    group = f"rebuild-{uuid4().hex[:8]}"
    database = stack.create_database("rebuild")
    started = time.monotonic()
    processes = [
        stack.add(name, "timeline", database, CONSUMER_GROUP=group)
        for name in [
            "timeline-rebuild",
            *(f"timeline-rebuild-{n}" for n in range(2, instances + 1)),
        ]
    ]
    process = processes[0]
    cpu = CpuMeter({p.name: (p.pid, False) for p in processes}).start()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.infra.kafka_bootstrap)
    await admin.start()
    peak_kb = 0
    marks: dict[str, Json] = {}
    ready_s: float | None = None
    done = 0
    try:
        while True:
            for each in processes:
                if not each.alive():
                    raise RuntimeError(f"a rebuilding timeline died:\n{each.log_tail()}")
            kb = max(each.rss_kb() for each in processes)
            peak_kb = max(peak_kb, kb)
            if ready_s is None:
                try:
                    health = await asyncio.to_thread(httpx.get, f"{process.url}/healthz", timeout=1)
                    if health.status_code == 200:
                        ready_s = time.monotonic() - started
                except httpx.HTTPError:
                    pass
            committed = await admin.list_consumer_group_offsets(f"{stack.topic_prefix}{group}")
            done = sum(
                min(meta.offset, ends[tp])
                for tp, meta in committed.items()
                if tp in ends and meta.offset >= 0
            )
            for share in rss_at:
                label = f"{int(share * 100)}%"
                if label not in marks and done >= share * total:
                    marks[label] = {"events": done, "rss_mb": round(kb / 1024, 1)}
            if done >= total or time.monotonic() - started > timeout_s:
                break
            await asyncio.sleep(0.25)
    finally:
        await admin.close()
    took = time.monotonic() - started
    return {
        "events": total,
        "applied": done,
        "completed": done >= total,
        "seconds": round(took, 3),
        "ready_s": None if ready_s is None else round(ready_s, 3),
        "events_per_s": round(done / took, 1),
        "events_per_s_after_ready": None
        if ready_s is None or took <= ready_s
        else round(done / (took - ready_s), 1),
        "instances": instances,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_at": marks,
        "cpu_percent": cpu.stop(),
        "url": process.url,
        "database_url": database,
    }


def orders_held(database_url: str) -> list[str]:
    """The work orders a timeline's database holds events of (in a stable order)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT work_order_id FROM received_events"
            " WHERE work_order_id IS NOT NULL ORDER BY work_order_id"
        ).fetchall()
    return [str(r[0]) for r in rows]


FILLER_EVENTS = """
INSERT INTO received_events (event_id, event_type, work_order_id, occurred_at, recorded_at,
    topic, kafka_partition, kafka_offset, body)
SELECT gen_random_uuid(), 'BenchFiller', work_order_id, a_at, a_at, 'bench.filler', 0, 0,
       '{}'::jsonb
FROM order_projection WHERE hash LIKE 'filler:%'
"""


async def fill_orders(database_url: str, orders: int, anchor: datetime) -> Json:
    """``orders`` synthetic orders beside the rebuilt ones, over the 30 days that end with the
    replayed day: projection rows, their seven segments and an event each in ``received_events``, so
    that every table the timeline's reads touch is a million orders deep (the figure must not
    depend on the table's size). Their hashes say what they are; nothing replays them."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                bench_reports.FILL.replace("md5(n::text)", "'filler:' || md5(n::text)"),
                anchor - timedelta(days=29),  # the replayed day holds a thirtieth of them
                30.0,
                orders,
            )
            await conn.execute(bench_reports.SEGMENTS + " WHERE o.hash LIKE 'filler:%'")
            await conn.execute(FILLER_EVENTS)
        # Now, not by autovacuum in the middle of the queries: a settled table is measured.
        await conn.execute("VACUUM (ANALYZE) order_projection, order_segments, received_events")
    finally:
        await conn.close()
    return {"orders": orders, "seconds": round(time.monotonic() - started, 1)}


async def query(
    url: str,
    auditor: str,
    work_order_ids: list[str],
    *,
    samples: int,
    day: tuple[datetime, datetime],
) -> Json:
    """``GET /v1/work-orders/{id}/timeline`` for ``samples`` orders picked evenly from those held,
    one after another (latency, not throughput); then the day's summary report, three times."""
    http = Http(url, connections=4, timeout_s=30)
    auth = bearer(auditor)
    step = max(1, len(work_order_ids) // max(1, samples))
    picked = work_order_ids[::step][:samples]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    try:
        for wo in picked:
            started = time.monotonic()
            answer = await http.request("GET", f"/v1/work-orders/{wo}/timeline", headers=auth)
            took = time.monotonic() - started
            statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
            if answer.ok:
                latencies.append(took)
        summary_s: list[float] = []
        summary_status: int | None = None
        summary_orders: Any = None
        params = {"from": day[0].isoformat(), "to": day[1].isoformat()}
        for _ in range(3):
            started = time.monotonic()
            answer = await http.request("GET", "/v1/reports/summary", headers=auth, params=params)
            summary_status = answer.status
            if not answer.ok:
                break
            summary_s.append(time.monotonic() - started)
            summary_orders = answer.json().get("orders")
    finally:
        await http.aclose()
    summary_ms = _ms(statistics.median(summary_s)) if summary_s else None
    return {
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "samples": len(latencies),
        "statuses": statuses,
        "summary_ms": summary_ms,
        "summary_orders": summary_orders,
        "summary_reason": None
        if summary_ms is not None
        else f"GET /v1/reports/summary answered {summary_status}",
    }


def auditor_for(stack: Stack, url: str) -> tuple[Keyring, str]:
    """A keyring on ``stack``'s topics whose tokens ``url`` (a timeline) accepts."""
    keys = Keyring({"timeline": url}, stack.infra.kafka_bootstrap, stack.topic_prefix)
    return keys, keys.auditor


def tokens_of(keys: Keyring) -> Tokens:
    """The simulator's tokens from the harness's keyring (after ``keys.prepare``)."""
    return Tokens(
        phone_system=keys.phone_system,
        auditor=keys.auditor,
        admin=keys.admin,
        dispatcher=dict(keys.dispatchers),
        devices=dict(keys.devices),
    )


def infra_ports(infra: Infra) -> dict[str, int]:
    """PostgreSQL's and Kafka's ports, for the CPU meter."""
    pg = int(conninfo_to_dict(infra.postgres_url).get("port") or 5432)
    kafka = int(infra.kafka_bootstrap.rsplit(":", 1)[1].split(",", 1)[0])
    return {"postgresql": pg, "kafka": kafka}


def dump(path: Path, doc: Json) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
