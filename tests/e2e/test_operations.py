"""Operations on the running services (issue 10): Prometheus metrics, JSON logs with the order's
ids, readiness that names Kafka and the migrations."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from contracts.access import Role
from contracts.topics import WORK_ORDERS
from tests.support.desk import Desk, Json, minutes_after, wait_for
from tests.support.system import System
from tools.tokens import Grant

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "dispatch", "timeline")
HARNESS_LINE = "===== [harness]"
Samples = list[tuple[str, dict[str, str], float]]


@pytest.fixture(scope="module")
def monitoring(system: System) -> str:
    [token] = system.keys.issue([Grant(Role.MONITORING)], services=SERVICES)
    return token


def scrape(desk: Desk, service: str, token: str) -> Samples:
    answer = desk.get(service, "/metrics", token=token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there are none)."""
    return sum(
        v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())
    )


def series(samples: Samples, name: str) -> list[tuple[dict[str, str], float]]:
    return [(ls, v) for n, ls, v in samples if n == name]


def recent_order(desk: Desk) -> tuple[str, Any]:
    """One order A to H within the last minute, every segment within its limit (no rung of the
    escalation ladder falls due while it runs)."""
    crew = desk.crew(co_located=False)
    start = datetime.now(UTC) - timedelta(seconds=60)
    points = minutes_after(start, A=0, B=0.1, C=0.2, D=0.3, E=0.4, F=0.5, G=0.6, H=0.8)
    wo = desk.order(crew, points)
    desk.timeline(wo, set("ABCDEFGH"))
    return wo, crew


def test_each_service_counts_its_requests_by_route_and_shows_lag_outbox_and_stalls(
    desk: Desk, monitoring: str
) -> None:
    before = {s: scrape(desk, s, monitoring) for s in SERVICES}
    wo, _ = recent_order(desk)
    called = {
        "intake": ("POST", "/v1/calls"),
        "dispatch": ("POST", "/v1/work-orders/{work_order_id}/dispatch"),
        "timeline": ("GET", "/v1/work-orders/{work_order_id}/timeline"),
    }

    def settled(service: str) -> Samples | None:
        samples = scrape(desk, service, monitoring)
        lags = series(samples, "repair_consumer_lag")
        return samples if lags and series(samples, "repair_outbox_backlog") else None

    for service, (method, route) in called.items():
        after: Samples = wait_for(f"{service}'s lag and outbox", partial(settled, service))
        name = "repair_http_requests_total"
        counted = total(after, name, method=method, route=route)
        assert counted >= total(before[service], name, method=method, route=route) + 1, service
        assert total(after, name, method=method, route=route, status="2") == 0  # whole codes
        assert (
            total(after, "repair_http_request_duration_seconds_count", method=method, route=route)
            >= 1
        )
        assert {ls["service"] for _, ls, _ in after} == {service}
        assert not [ls for _, ls, _ in after if wo in ls.get("route", "")], "a raw path as label"
        for labels, lag in series(after, "repair_consumer_lag"):
            assert lag >= 0, labels
            assert labels["topic"].startswith("repair."), "the run's prefix is left out"
            assert int(labels["partition"]) >= 0
        [(_, backlog)] = series(after, "repair_outbox_backlog")
        [(_, oldest)] = series(after, "repair_outbox_oldest_age_seconds")
        assert backlog >= 0
        assert oldest >= 0
        assert series(after, "repair_metrics_database_up") == [({"service": service}, 1.0)]
        # The loop watcher wakes ten times a second (a fresh process may not have collected yet).
        assert total(after, "repair_event_loop_lag_seconds_count") > total(
            before[service], "repair_event_loop_lag_seconds_count"
        )
    access = series(scrape(desk, "intake", monitoring), "repair_consumer_lag")
    assert any(ls["topic"] == "repair.access.v1" for ls, _ in access), access


def test_a_late_segment_shows_as_a_breach_by_party_and_its_escalation_by_rung(
    desk: Desk, monitoring: str
) -> None:
    def breaches(samples: Samples) -> float:
        # Found, not open: an open breach closes when its end arrives, a found one stays counted.
        return total(samples, "repair_breaches_found_total", segment="DE", party="crew_receiver")

    def escalations(samples: Samples) -> float:
        return total(samples, "repair_escalations_total", rung="not_taken:1", party="crew")

    breached_before = breaches(scrape(desk, "timeline", monitoring))
    raised_before = escalations(scrape(desk, "dispatch", monitoring))
    crew = desk.crew(co_located=False)
    d_at = datetime.now(UTC) - timedelta(minutes=5)  # DE's limit (remote crew) is 4 minutes
    points = {"A": d_at - timedelta(minutes=3), "B": d_at - timedelta(minutes=2)}
    points |= {"C": d_at - timedelta(minutes=1), "D": d_at}
    desk.order(crew, points)

    def breached() -> float:
        return breaches(scrape(desk, "timeline", monitoring)) >= breached_before + 1

    def raised() -> float:
        return escalations(scrape(desk, "dispatch", monitoring)) >= raised_before + 1

    wait_for("the DE breach against the crew on the timeline's metrics", breached)
    wait_for("rule 2's first rung on dispatch's metrics", raised)


async def _poison(system: System) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topic(WORK_ORDERS.name), b'{"event_type": "CallEnded"}', key=b"ops-poison"
        )
    finally:
        await producer.stop()


def test_a_dead_letter_is_counted_by_its_topic(desk: Desk, monitoring: str) -> None:
    consumers = ("dispatch", "timeline")  # both read the work-orders topic

    def dead(service: str) -> float:
        samples = scrape(desk, service, monitoring)
        return total(samples, "repair_dead_letters_total", topic=WORK_ORDERS.name)

    before = {s: dead(s) for s in consumers}

    def counted(service: str) -> bool:
        return dead(service) > before[service]

    asyncio.run(_poison(desk.system))
    for service in consumers:
        wait_for(f"{service}'s dead letter counted", partial(counted, service))


def test_metrics_are_for_monitoring_and_admin_tokens_only(desk: Desk, monitoring: str) -> None:
    crew = desk.crew(co_located=False)
    device = desk.system.keys.device(crew.vehicle_id)
    for service in SERVICES:
        assert desk.get(service, "/metrics", token=None).status_code == 401
        refused = desk.get(service, "/metrics", token=device)
        assert refused.status_code == 403, refused.text
        assert "monitoring" in refused.json()["detail"]
        assert desk.get(service, "/metrics", token=desk.system.keys.auditor).status_code == 403
        assert desk.get(service, "/metrics", token=desk.system.keys.admin).status_code == 200
        assert scrape(desk, service, monitoring)
        assert "/metrics" not in desk.ok(desk.get(service, "/openapi.json", token=None))["paths"]


def test_readiness_names_kafka_and_the_migrations(desk: Desk) -> None:
    for service in SERVICES:
        last: list[str] = []

        def ready(s: str = service, seen: list[str] = last) -> Json | None:
            answer = desk.get(s, "/readyz")
            seen[:] = [answer.text]
            return answer.json() if answer.status_code == 200 else None

        try:
            body: Json = wait_for(f"{service} ready", ready)
        except AssertionError as err:
            raise AssertionError(f"{err}; last answer: {last}") from None
        assert {"status", "unwell", "database", "tasks", "outbox", "kafka", "migrations"} <= set(
            body
        )
        assert (body["status"], body["unwell"]) == ("ready", [])
        assert body["kafka"]["state"] == "ok"
        assert body["kafka"]["brokers"] >= 1
        migrations = body["migrations"]
        assert migrations["state"] == "ok"
        assert migrations["pending"] == []
        assert migrations["applied"] == migrations["expected"] > 3  # the shared three and more


def _log_lines(system: System, service: str) -> list[Json]:
    lines = []
    for raw in system.processes[service].log.read_text().splitlines():
        if not raw.strip() or raw.startswith(HARNESS_LINE):
            continue
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            pytest.fail(f"{service}'s log has a line that is not JSON: {raw!r}")
    return lines


def test_every_log_line_is_json_and_an_orders_lines_carry_its_ids(desk: Desk) -> None:
    wo, _ = recent_order(desk)
    mine = f"ops-{uuid4().hex[:12]}"
    answer = desk.http.get(
        desk.url("timeline", f"/v1/work-orders/{wo}/timeline"), headers={"X-Correlation-ID": mine}
    )
    assert answer.status_code == 200
    assert answer.headers["X-Correlation-ID"] == mine
    generated = desk.get("timeline", f"/v1/work-orders/{wo}/timeline").headers["X-Correlation-ID"]
    assert generated != mine

    def access_line() -> Json | None:
        return next(
            (x for x in _log_lines(desk.system, "timeline") if x.get("correlation_id") == mine),
            None,
        )

    line: Json = wait_for("the request's access line in the timeline's log", access_line)
    assert line["work_order_id"] == wo
    assert (line["logger"], line["method"], line["status"]) == ("uvicorn.access", "GET", 200)
    assert line["path"] == f"/v1/work-orders/{wo}/timeline"
    about_order = 0
    for service in SERVICES:
        lines = _log_lines(desk.system, service)
        assert lines, f"{service} logged nothing"
        for x in lines:
            assert {"timestamp", "level", "logger", "event"} <= set(x), x
            assert x["service"] == service, x
            datetime.fromisoformat(x["timestamp"])
            if wo in x["event"]:
                about_order += 1
                assert x.get("work_order_id") == wo, x
                assert x.get("correlation_id"), x
    assert about_order >= 8  # the order's steps, at least, in uvicorn's access lines
