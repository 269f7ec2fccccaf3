"""Prometheus metrics of one service process: one registry, names prefixed ``repair_``.

Counted as they happen: HTTP requests and their latency by route template (never the raw
path, so the label set stays bounded), consumer lag by partition (noted by the consumer as it
goes), dead letters; the event loop's lag and the collector's pauses (``stalls``). Read from
the service's own tables at scrape (``scrape``): the outbox's backlog and the age of its oldest
unpublished event, escalations raised by rung and party (dispatch) and live breaches by segment
and responsible party (timeline), so that every instance of a service reports the same truth,
which survives restarts.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import IllegalStateError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from services.common.failures import describe

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
"""The process's registry (not prometheus-client's global one: only our ``repair_`` names)."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"
"""The route label of a request no route matches (404s of made-up paths stay one series)."""
SCRAPE_TIMEOUT_S = 0.5
LAG_EVERY_S = 1.0
"""The consumer notes its lag at most this often: cheap, and fresh enough for a scrape."""

_service = "unknown"
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin per counter

HTTP_REQUESTS = Counter(
    "repair_http_requests",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "repair_http_request_duration_seconds",
    "Time from a request's arrival to its answer's end, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "repair_consumer_lag",
    "Records in a partition not yet applied: the high-water mark minus the consumer's position.",
    ["service", "topic", "partition"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "repair_dead_letters",
    "Messages this process sent to the dead-letter topic, by the topic they came from.",
    ["service", "topic"],
    registry=REGISTRY,
)


def set_service(name: str) -> None:
    """Name the process's service once, at start: every series carries it as ``service``."""
    global _service
    _service = name


def service() -> str:
    return _service


# -- HTTP --------------------------------------------------------------------------------------


class RouteMatch(NamedTuple):
    template: str
    params: Mapping[str, Any]
    route: BaseRoute | None
    """The route that serves the request (its path and method match), if one does."""


def route_of(routes: Iterable[BaseRoute], scope: Scope) -> RouteMatch:
    """The template of the route that serves ``scope`` (``/v1/work-orders/{work_order_id}``),
    its path parameters and the route; ``UNMATCHED`` and none when no route's path matches. A
    route whose path matches but not its method (a 405) still names its template."""
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        template = getattr(route, "path", None)
        if not isinstance(template, str):
            continue
        if match is Match.FULL:
            return RouteMatch(template, child.get("path_params", {}), route)
        if match is Match.PARTIAL and partial is None:
            partial = template
    return RouteMatch(partial or UNMATCHED, {}, None)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods kept as labels; any other a client makes up is counted as ``other``."""


def _method_label(method: str) -> str:
    return method if method in METHODS else "other"


SHED = "shed"
"""The route label of a request shed (503) before it was routed."""


def count_shed(method: str) -> None:
    """Count one request turned away by the load shedding (no duration: it took none)."""
    HTTP_REQUESTS.labels(_service, _method_label(method), SHED, "503").inc()


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration, under bounded labels."""
    method = _method_label(method)
    HTTP_REQUESTS.labels(_service, method, route, str(status)).inc()
    HTTP_DURATION.labels(_service, method, route).observe(seconds)


# -- Kafka -------------------------------------------------------------------------------------


def unprefixed(topic: str, prefix: str) -> str:
    """The topic's own name: a test run's or a rebuild's prefix would make labels unbounded."""
    return topic.removeprefix(prefix) if prefix else topic


@dataclass
class LagNotes:
    """What one consumer last reported, so that partitions it no longer holds are dropped."""

    prefix: str
    at: float = 0.0
    labelled: set[tuple[str, str]] = field(default_factory=set)


async def note_lag(consumer: AIOKafkaConsumer, notes: LagNotes) -> None:
    """Set ``repair_consumer_lag`` for every partition the consumer holds (at most every
    ``LAG_EVERY_S``). Only partitions fetched at least once have a high-water mark; their
    position is then known, and reading it does not wait."""
    now = time.monotonic()
    if now - notes.at < LAG_EVERY_S:
        return
    notes.at = now
    seen: set[tuple[str, str]] = set()
    for tp in list(consumer.assignment()):
        try:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
        except (IllegalStateError, AssertionError):  # a rebalance took it: its owner reports it
            continue
        labels = (unprefixed(tp.topic, notes.prefix), str(tp.partition))
        CONSUMER_LAG.labels(_service, *labels).set(max(0, highwater - position))
        seen.add(labels)
    for gone in notes.labelled - seen:
        _remove(CONSUMER_LAG, _service, *gone)
    notes.labelled = seen


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


def dead_lettered(topic: str, prefix: str) -> None:
    """Count one message parked on the dead-letter topic, by the topic it came from."""
    DEAD_LETTERS.labels(_service, unprefixed(topic, prefix)).inc()


# -- read from the tables at scrape --------------------------------------------------------------

ESCALATION_PARTY = {"not_received": "repair_center", "not_taken": "crew"}
"""Whose hand-over an escalation chases: rule 1, the repair center that did not take the order
in (C); rule 2, the crew that did not take it (E or F)."""


@dataclass(frozen=True)
class Snapshot:
    """What the service's tables said at the last scrape (``None``: the database did not
    answer in time, and the families are left out rather than shown stale)."""

    outbox_backlog: int | None = None
    outbox_oldest_age_s: float | None = None
    escalations: tuple[tuple[str, str, int], ...] = ()
    breaches: tuple[tuple[str, str, int], ...] = ()
    breaches_found: tuple[tuple[str, str, int], ...] = ()
    """Every breach recorded, open or closed since (its end arrived): the tally by party."""
    database_up: bool = False


class _FromTables(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        s, labels = self.snapshot, [_service]
        up = GaugeMetricFamily(
            "repair_metrics_database_up",
            "1 when the service's database answered this scrape within its timeout.",
            labels=["service"],
        )
        up.add_metric(labels, 1.0 if s.database_up else 0.0)
        yield up
        if s.outbox_backlog is not None:
            backlog = GaugeMetricFamily(
                "repair_outbox_backlog",
                "Events recorded but not yet published to Kafka.",
                labels=["service"],
            )
            backlog.add_metric(labels, float(s.outbox_backlog))
            yield backlog
            oldest = GaugeMetricFamily(
                "repair_outbox_oldest_age_seconds",
                "Age of the oldest unpublished event (0 when the outbox is drained).",
                labels=["service"],
            )
            oldest.add_metric(labels, s.outbox_oldest_age_s or 0.0)
            yield oldest
        tallies = (
            (
                CounterMetricFamily,
                "repair_escalations",
                "Escalations raised (rules 1 and 2), by rung (rule:level) and the party chased.",
                "rung",
                s.escalations,
            ),
            (
                GaugeMetricFamily,
                "repair_breaches",
                "Live breaches: running segments past their limit, by segment and responsible party.",
                "segment",
                s.breaches,
            ),
            (
                CounterMetricFamily,
                "repair_breaches_found",
                "Breaches found (live when found, open or closed since), by segment and party.",
                "segment",
                s.breaches_found,
            ),
        )
        for family, name, documentation, by, rows in tallies:
            if rows:
                tally = family(name, documentation, labels=["service", by, "party"])
                for key, party, count in rows:
                    tally.add_metric([_service, key, party], float(count))
                yield tally


_TABLES = _FromTables()
REGISTRY.register(_TABLES)


async def read_tables(pool: asyncpg.Pool) -> Snapshot:
    """One connection, a few aggregate queries; the escalations and breaches only where the
    service keeps those tables (dispatch, timeline)."""
    async with pool.acquire(timeout=SCRAPE_TIMEOUT_S) as conn:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS backlog,
                   extract(epoch FROM now() - min(e.recorded_at))::float8 AS oldest_age_s,
                   to_regclass('escalations') IS NOT NULL AS has_escalations,
                   to_regclass('breaches') IS NOT NULL AS has_breaches
            FROM outbox o JOIN events e USING (event_id)
            WHERE o.published_at IS NULL
            """
        )
        assert row is not None
        escalations: list[tuple[str, str, int]] = []
        if row["has_escalations"]:
            for r in await conn.fetch(
                """
                SELECT body->>'rule' AS rule, body->>'level' AS level, count(*) AS n
                FROM escalations GROUP BY 1, 2 ORDER BY 1, 2
                """
            ):
                party = ESCALATION_PARTY.get(r["rule"], r["rule"])
                escalations.append((f"{r['rule']}:{r['level']}", party, r["n"]))
        breaches: list[tuple[str, str, int]] = []
        found: list[tuple[str, str, int]] = []
        if row["has_breaches"]:
            for r in await conn.fetch(
                """
                SELECT segment, coalesce(responsible, 'undetermined') AS party,
                       count(*) FILTER (WHERE status = 'open') AS open, count(*) AS n
                FROM breaches GROUP BY 1, 2 ORDER BY 1, 2
                """
            ):
                found.append((r["segment"], r["party"], r["n"]))
                if r["open"]:
                    breaches.append((r["segment"], r["party"], r["open"]))
    return Snapshot(
        outbox_backlog=row["backlog"],
        outbox_oldest_age_s=row["oldest_age_s"],
        escalations=tuple(escalations),
        breaches=tuple(breaches),
        breaches_found=tuple(found),
        database_up=True,
    )


async def scrape(pool: asyncpg.Pool) -> bytes:
    """The exposition: the tables read (within ``SCRAPE_TIMEOUT_S``), then every series."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            snapshot = await read_tables(pool)
    except Exception as err:  # the scrape still answers: the counters, and database_up 0
        log.warning("metrics: the tables were not read: %s", describe(err))
        snapshot = Snapshot()
    return exposition(snapshot)


def exposition(snapshot: Snapshot) -> bytes:
    """Every series of the registry, the tables' as ``snapshot`` says (no await in between,
    so that two scrapes at once never mix their snapshots)."""
    _TABLES.snapshot = snapshot
    return generate_latest(REGISTRY)
