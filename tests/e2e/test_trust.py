"""Retries, bad input and impossible steps: answered clearly, and nothing recorded twice or lost."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import psycopg
import pytest

from tests.support.desk import Crew, Desk, Json, ago, minutes_after, wait_for
from tests.support.keys import HARNESS_AUTH

pytestmark = pytest.mark.e2e


def test_the_same_gps_report_three_times_is_one_event(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(30), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    before = desk.events_recorded("dispatch")
    answers = [
        desk.report(
            crew.vehicle_id,
            "order_received",
            points["D"] + timedelta(minutes=1),
            wo,
            report_id="r-e-1",
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers["Idempotent-Replay"] for a in answers] == ["false", "true", "true"]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert desk.events_recorded("dispatch") == before + 1
    desk.timeline(wo, set("ABCDE"))
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    reached = [e for e in history if e["event_type"] == "OrderReachedCrew"]
    assert [e["event_id"] for e in reached] == [answers[0].json()["event_id"]]


def test_a_report_id_reused_with_another_type_is_409_showing_the_first_and_loses_nothing(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(30), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    departed = desk.report(
        crew.vehicle_id, "departed", points["D"] + timedelta(minutes=5), wo, "r-1"
    )
    desk.ok(departed)
    before = desk.events_recorded("dispatch")
    # The unit's counter rebooted: its arrival comes with a report id it has used before.
    arrived = desk.report(
        crew.vehicle_id, "arrived", points["D"] + timedelta(minutes=20), wo, "r-1"
    )
    assert arrived.status_code == 409, arrived.text
    refusal = arrived.json()
    assert refusal["first"] == {
        "report_id": "r-1",
        "type": "departed",
        "work_order_id": wo,
        "occurred_at": at_z(points["D"] + timedelta(minutes=5)),
        "position": None,
        "repair": None,
    }
    assert refusal["differs"] == ["occurred_at", "type"]
    assert "'r-1'" in refusal["detail"]
    assert crew.vehicle_id in refusal["detail"]
    assert desk.events_recorded("dispatch") == before
    # A later report on the same order reaches the timeline after anything posted before it.
    desk.ok(desk.report(crew.vehicle_id, "fault_cleared", ago(1), wo, "r-2"))

    def history() -> list[Json] | None:
        events: list[Json] = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
        return events if any(e["event_type"] == "FaultCleared" for e in events) else None

    types = [e["event_type"] for e in wait_for("the cleared fault on the timeline", history)]
    assert types.count("CrewDeparted") == 1
    assert "CrewArrived" not in types


def test_one_report_id_posted_from_ten_connections_at_once_is_one_event(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(30), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    before = desk.events_recorded("dispatch")
    body = {
        "report_id": "r-race",
        "type": "order_received",
        "occurred_at": (points["D"] + timedelta(minutes=1)).isoformat(),
        "work_order_id": wo,
    }
    url = desk.url("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports")

    def post(_: int) -> httpx.Response:
        with httpx.Client(auth=HARNESS_AUTH, timeout=10) as own_connection:
            return own_connection.post(url, json=body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(post, range(10)))
    assert [a.status_code for a in answers] == [201] * 10
    assert sorted(a.headers["Idempotent-Replay"] for a in answers) == ["false"] + ["true"] * 9
    assert len({a.text for a in answers}) == 1
    assert desk.events_recorded("dispatch") == before + 1


def test_the_same_call_twice_opens_one_work_order(desk: Desk) -> None:
    call_id = f"call-{uuid4().hex}"
    ended = ago(3)
    first = desk.call(ended, call_id=call_id)
    assert desk.call(ended, call_id=call_id) == first
    before = desk.events_recorded("intake")
    changed = desk.post(
        "intake",
        "/v1/calls",
        {
            "call_id": call_id,
            "ended_at": ended.isoformat(),
            "caller": {"name": "Zhang Wei", "phone": "+86 10 7777 0000"},
            "address": "3 Other Lane",
            "fault": {"category": "outage", "description": "x"},
            "agent_id": "agent-7",
        },
    )
    assert changed.status_code == 409, changed.text
    refusal = changed.json()
    assert call_id in refusal["detail"]
    assert refusal["differs"] == [
        "caller.name",
        "caller.phone",
        "address",
        "location",
        "fault.description",
        "fault.voltage_kv",
    ]
    # The caller is personal: neither the first caller nor the second is echoed.
    assert "first" not in refusal
    for personal in ("Li Na", "+86 10 8888 0000", "Zhang Wei", "+86 10 7777 0000", "Dongsi"):
        assert personal not in changed.text
    assert desk.events_recorded("intake") == before


def test_live_stamps_beyond_the_tolerance_are_refused_and_record_nothing(desk: Desk) -> None:
    # The session's services allow 30 days (their scripted histories lie in the past).
    month_ago, month_ahead = ago(31 * 24 * 60), ago(-31 * 24 * 60 - 10)
    crew = desk.crew(co_located=False)
    wo = desk.call(ago(5))
    intake_before = desk.events_recorded("intake")
    late_issue = desk.post("intake", f"/v1/work-orders/{wo}/issue", issue_body(crew, month_ago))
    assert_stamp_refused(late_issue, "issued_at", "before")
    assert desk.events_recorded("intake") == intake_before
    assert desk.get("intake", f"/v1/work-orders/{wo}").json()["issued_at"] is None

    call_id = f"call-{uuid4().hex}"
    future_call = desk.post("intake", "/v1/calls", call_body(call_id, month_ahead))
    assert_stamp_refused(future_call, "ended_at", "after")
    assert desk.events_recorded("intake") == intake_before
    # The refusal did not burn the call id: the call with its true stamp is taken.
    assert desk.post("intake", "/v1/calls", call_body(call_id, ago(2))).status_code == 201

    desk.issue(wo, ago(4), crew)
    desk.wait_at_dispatch(wo)
    dispatch_before = desk.events_recorded("dispatch")
    late_receipt = desk.post(
        "dispatch",
        f"/v1/work-orders/{wo}/receipt",
        {"received_at": month_ago.isoformat(), "repair_center_id": crew.repair_center_id},
    )
    assert_stamp_refused(late_receipt, "received_at", "before")
    assert desk.events_recorded("dispatch") == dispatch_before
    assert desk.get("dispatch", f"/v1/work-orders/{wo}").json()["status"] == "issued"


def test_bad_bodies_say_what_and_where_and_change_nothing(desk: Desk) -> None:
    before = desk.events_recorded("intake")
    response = desk.post(
        "intake",
        "/v1/calls",
        {
            "call_id": "c",
            "ended_at": "2026-11-23T10:00:00",  # no timezone
            "caller": {"name": "Li"},
            "address": "x",
            "fault": {"category": "outage", "description": "d"},
            "agent_id": "a",
        },
    )
    assert response.status_code == 422
    where = {tuple(err["loc"]) for err in response.json()["detail"]}
    assert where == {("body", "ended_at"), ("body", "caller", "phone")}
    crew = desk.crew(co_located=False)
    no_crew = desk.put("dispatch", "/v1/vehicles/v-x", {"crew_id": "nobody"})
    assert no_crew.status_code == 422
    assert no_crew.json()["detail"][0]["loc"] == ["body", "crew_id"]
    assert desk.get("dispatch", "/v1/vehicles/v-x").status_code == 404
    unknown = desk.post(
        "dispatch",
        f"/v1/work-orders/{uuid4()}/receipt",
        {
            "received_at": ago(1).isoformat(),
            "repair_center_id": crew.repair_center_id,
        },
    )
    assert unknown.status_code == 404
    assert "no work order" in unknown.json()["detail"]
    assert desk.events_recorded("intake") == before


def test_impossible_steps_are_refused_with_409_and_change_nothing(desk: Desk) -> None:
    crew, stranger = desk.crew(co_located=False), desk.crew(co_located=False)
    points = minutes_after(ago(20), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    before = desk.events_recorded("dispatch")
    wrong_vehicle = desk.report(stranger.vehicle_id, "arrived", ago(1), wo)
    assert wrong_vehicle.status_code == 409
    assert stranger.vehicle_id in wrong_vehicle.json()["detail"]
    wrong_center = desk.post(
        "dispatch",
        f"/v1/work-orders/{wo}/receipt",
        {
            "received_at": ago(1).isoformat(),
            "repair_center_id": stranger.repair_center_id,
        },
    )
    assert wrong_center.status_code == 403  # another center's dispatcher (ADR 0011)
    redispatch = desk.post(
        "dispatch",
        f"/v1/work-orders/{wo}/dispatch",
        {
            "dispatched_at": ago(1).isoformat(),
            "crew_id": crew.crew_id,
            "vehicle_id": crew.vehicle_id,
            "dispatcher_id": "someone-else",
        },
    )
    assert redispatch.status_code == 409
    assert desk.events_recorded("dispatch") == before
    # A refused report id is not burnt: once the unit's post makes sense, it is taken.
    desk.ok(desk.report(crew.vehicle_id, "order_received", ago(1), wo))
    assert desk.events_recorded("dispatch") == before + 1


def test_every_published_event_carries_its_kafka_offset_on_both_sides(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1, C=2, D=3))
    desk.timeline(wo, set("ABCD"))

    def published() -> list[tuple[str, str, int, int]] | None:
        # The order's own stream (A to D): the escalation ladder's streams name the order too.
        rows: list[tuple[str, str, int, int]] = []
        for service in ("intake", "dispatch"):
            with psycopg.connect(desk.system.database_urls[service]) as conn:
                rows += conn.execute(
                    """SELECT o.event_id::text, o.topic, o.kafka_partition, o.kafka_offset
                       FROM outbox o JOIN events e USING (event_id) WHERE e.stream_id = %s""",
                    (f"work-order-{wo}",),
                ).fetchall()
        return rows if len(rows) == 4 and all(r[3] is not None for r in rows) else None

    produced = {r[0]: r[1:] for r in wait_for("the outbox to stamp offsets", published)}
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    consumed = {
        e["event_id"]: (e["topic"], e["kafka_partition"], e["kafka_offset"]) for e in history
    }
    assert consumed == produced
    assert all(e["recorded_at"] and e["occurred_at"] for e in history)


def call_body(call_id: str, ended_at: datetime) -> Json:
    return {
        "call_id": call_id,
        "ended_at": ended_at.isoformat(),
        "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
        "address": "12 Dongsi North St, Dongcheng",
        "fault": {"category": "outage", "description": "whole building dark"},
        "agent_id": "agent-7",
    }


def issue_body(crew: Crew, issued_at: datetime) -> Json:
    return {
        "issued_at": issued_at.isoformat(),
        "duty_chief_id": "chief-1",
        "repair_center_id": crew.repair_center_id,
    }


def assert_stamp_refused(response: httpx.Response, field: str, side: str) -> None:
    assert response.status_code == 422, response.text
    [where] = response.json()["detail"]
    assert (where["loc"], where["type"]) == (["body", field], "stamp_out_of_tolerance")
    assert "lies 31 d" in where["msg"]
    assert side in where["msg"]
    assert "at most 30 d either way" in where["msg"]


def at_z(moment: datetime) -> str:
    """An instant as the services spell it back (UTC, ``Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
