"""The pure parts of metrics and logs: route templates, correlation ids, the JSON line's fields."""

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import TopicPartition
from fastapi import FastAPI
from starlette.types import Scope

from services.common import logs, metrics
from services.common.auth import every_route
from services.common.http import Observed

WO = "0b8c3f5e-8d1a-4e55-9c61-2f0f7a4b9d10"


def _app() -> FastAPI:
    app = FastAPI(title="repair-dispatch test")

    @app.get("/v1/work-orders/{work_order_id}/timeline")
    async def timeline(work_order_id: str) -> dict[str, Any]:
        logging.getLogger("tests.route").info("timeline of %s asked", work_order_id)
        return {"ids": logs.context()}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def test_the_route_label_is_the_template_never_the_raw_path() -> None:
    routes = every_route(_app())
    template, params, route = metrics.route_of(
        routes, _scope("GET", f"/v1/work-orders/{WO}/timeline")
    )
    assert template == "/v1/work-orders/{work_order_id}/timeline"
    assert params == {"work_order_id": WO}
    assert getattr(route, "path", None) == template
    # The method does not match (a 405): still the template, not the path.
    assert metrics.route_of(routes, _scope("POST", f"/v1/work-orders/{WO}/timeline"))[0] == (
        "/v1/work-orders/{work_order_id}/timeline"
    )
    assert metrics.route_of(routes, _scope("GET", f"/v1/nothing/{uuid4()}")) == (
        "unmatched",
        {},
        None,
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-correlation-id", b"call-42")], "call-42"),
        ([(b"x-request-id", b"req.7:a")], "req.7:a"),
        ([(b"x-request-id", b"second"), (b"x-correlation-id", b"first")], "first"),
    ],
)
def test_a_callers_correlation_id_is_kept(
    headers: list[tuple[bytes, bytes]], expected: str
) -> None:
    assert logs.correlation_id_from(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"x-correlation-id", b"two words")],
        [(b"x-correlation-id", b"x" * 129)],
        [(b"x-correlation-id", b"line\nbreak")],
        [(b"x-correlation-id", b"")],
    ],
)
def test_a_missing_or_malformed_correlation_id_is_replaced(
    headers: list[tuple[bytes, bytes]],
) -> None:
    made = logs.correlation_id_from(headers)
    assert UUID(made)  # a fresh one, the hostile value never kept
    assert made != logs.correlation_id_from(headers)


def test_a_path_parameter_binds_only_as_a_work_order_id() -> None:
    assert logs.work_order_id_of(WO.upper()) == WO
    assert logs.work_order_id_of("not-an-order") is None
    assert logs.work_order_id_of(None) is None


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("intake", "json"))
    logger = logging.getLogger("tests.operations")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_the_bound_ids_and_only_while_they_are_bound(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("tests.operations")
    with logs.bound(correlation_id="c-1", work_order_id=UUID(WO), absent=None):
        log.info("order %s received by %s", WO, "rc-1")
        with logs.bound(correlation_id="c-2"):
            log.warning("nested")
        log.info("restored")
    log.info("after")
    first, nested, restored, after = _lines(captured)
    assert first["event"] == f"order {WO} received by rc-1"
    assert (first["level"], first["logger"], first["service"]) == (
        "info",
        "tests.operations",
        "intake",
    )
    assert first["timestamp"].endswith("Z")
    assert (first["correlation_id"], first["work_order_id"]) == ("c-1", WO)
    assert "absent" not in first
    assert (nested["level"], nested["correlation_id"], nested["work_order_id"]) == (
        "warning",
        "c-2",
        WO,
    )
    assert restored["correlation_id"] == "c-1"
    assert "correlation_id" not in after
    assert "work_order_id" not in after


@dataclass
class _Event:
    work_order_id: UUID
    correlation_id: UUID


def test_a_consumed_event_binds_its_order_and_correlation(captured: io.StringIO) -> None:
    event = _Event(uuid4(), uuid4())
    with logs.about(event):
        logging.getLogger("tests.operations").error("cannot apply", exc_info=ValueError("no"))
    [line] = _lines(captured)
    assert line["work_order_id"] == str(event.work_order_id)
    assert line["correlation_id"] == str(event.correlation_id)
    assert "ValueError: no" in line["exception"]


def test_uvicorns_access_line_has_its_fields(captured: io.StringIO) -> None:
    logging.getLogger("tests.operations").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200
    )
    [line] = _lines(captured)
    assert line["event"] == '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'
    assert "positional_args" not in line
    assert "method" not in line  # only uvicorn.access's records are taken apart


def test_the_console_format_shows_the_same_fields_plainly() -> None:
    record = logging.LogRecord("tests.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    with logs.bound(work_order_id=WO):
        text = logs.formatter("dispatch", "console").format(record)
    assert "hello you" in text
    assert WO in text
    assert not text.startswith("{")


async def test_a_request_is_counted_by_template_and_its_ids_reach_its_lines() -> None:
    app = _app()
    observed = Observed(app, api=app)
    labels = {
        "service": metrics.service(),
        "method": "GET",
        "route": "/v1/work-orders/{work_order_id}/timeline",
        "status": "200",
    }
    before = metrics.REGISTRY.get_sample_value("repair_http_requests_total", labels) or 0.0
    transport = httpx.ASGITransport(app=observed)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get(
            f"/v1/work-orders/{WO}/timeline", headers={"X-Request-ID": "from-the-caller"}
        )
        fresh = await client.get("/healthz")
        await client.get(f"/v1/made-up/{uuid4()}")
    assert answer.headers["X-Correlation-ID"] == "from-the-caller"
    assert answer.json()["ids"] == {"correlation_id": "from-the-caller", "work_order_id": WO}
    assert UUID(fresh.headers["X-Correlation-ID"])
    assert metrics.REGISTRY.get_sample_value("repair_http_requests_total", labels) == before + 1
    unmatched = {**labels, "route": "unmatched", "status": "404"}
    assert (metrics.REGISTRY.get_sample_value("repair_http_requests_total", unmatched) or 0) >= 1
    count = metrics.REGISTRY.get_sample_value(
        "repair_http_request_duration_seconds_count",
        {k: labels[k] for k in ("service", "method", "route")},
    )
    assert count is not None
    assert count >= 1


def test_a_made_up_method_is_one_label() -> None:
    labels = {"service": metrics.service(), "route": "unmatched", "status": "400"}
    metrics.observe_request("BREW", "unmatched", 400, 0.001)
    metrics.observe_request("SPAM", "unmatched", 400, 0.001)
    counted = metrics.REGISTRY.get_sample_value(
        "repair_http_requests_total", {**labels, "method": "other"}
    )
    assert counted is not None
    assert counted >= 2
    assert (
        metrics.REGISTRY.get_sample_value(
            "repair_http_requests_total", {**labels, "method": "BREW"}
        )
        is None
    )
    assert b"_created" not in metrics.exposition(metrics.Snapshot())


def test_the_tables_families_follow_the_snapshot() -> None:
    text = metrics.exposition(
        metrics.Snapshot(
            outbox_backlog=3,
            outbox_oldest_age_s=1.5,
            escalations=(("not_taken:1", "crew", 2),),
            breaches=(("DE", "crew_receiver", 1), ("BC", "network", 4)),
            breaches_found=(("BC", "network", 6),),
            database_up=True,
        )
    ).decode()
    service = metrics.service()
    assert f'repair_outbox_backlog{{service="{service}"}} 3.0' in text
    assert f'repair_outbox_oldest_age_seconds{{service="{service}"}} 1.5' in text
    assert (
        f'repair_escalations_total{{party="crew",rung="not_taken:1",service="{service}"}} 2.0'
        in text
    )
    assert f'repair_breaches{{party="network",segment="BC",service="{service}"}} 4.0' in text
    found = f'repair_breaches_found_total{{party="network",segment="BC",service="{service}"}} 6.0'
    assert found in text
    assert f'repair_metrics_database_up{{service="{service}"}} 1.0' in text
    away = metrics.exposition(metrics.Snapshot()).decode()
    assert "repair_outbox_backlog{" not in away  # unknown, not shown stale
    assert "repair_breaches{" not in away
    assert f'repair_metrics_database_up{{service="{service}"}} 0.0' in away


class _Consumer:
    """What ``note_lag`` asks of an AIOKafkaConsumer."""

    def __init__(self, state: dict[TopicPartition, tuple[int | None, int]]) -> None:
        self.state = state

    def assignment(self) -> set[TopicPartition]:
        return set(self.state)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.state[tp][0]

    async def position(self, tp: TopicPartition) -> int:
        return self.state[tp][1]


async def test_lag_is_highwater_minus_position_without_the_prefix() -> None:
    a = TopicPartition("run-1.repair.work-orders.v1", 2)
    b = TopicPartition("run-1.repair.access.v1", 0)
    never = TopicPartition("run-1.repair.network.v1", 1)
    consumer: Any = _Consumer({a: (120, 100), b: (5, 5), never: (None, 0)})
    notes = metrics.LagNotes("run-1.")

    def lag(topic: str, partition: int) -> float | None:
        return metrics.REGISTRY.get_sample_value(
            "repair_consumer_lag",
            {"service": metrics.service(), "topic": topic, "partition": str(partition)},
        )

    await metrics.note_lag(consumer, notes)
    assert lag("repair.work-orders.v1", 2) == 20
    assert lag("repair.access.v1", 0) == 0
    assert lag("repair.network.v1", 1) is None  # never fetched: nothing to say yet
    consumer.state = {b: (9, 6)}  # a rebalance took the other partition away
    notes.at = 0.0
    await metrics.note_lag(consumer, notes)
    assert lag("repair.access.v1", 0) == 3
    assert lag("repair.work-orders.v1", 2) is None
