"""Retries, bad input and impossible steps: answered clearly, and nothing recorded twice or lost."""

from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest

from tests.support.desk import Desk, ago, minutes_after, wait_for

pytestmark = pytest.mark.e2e


def count_events(desk: Desk, service: str) -> int:
    with psycopg.connect(desk.system.database_urls[service]) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_the_same_gps_report_three_times_is_one_event(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(30), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    before = count_events(desk, "dispatch")
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
    assert count_events(desk, "dispatch") == before + 1
    desk.timeline(wo, set("ABCDE"))
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    reached = [e for e in history if e["event_type"] == "OrderReachedCrew"]
    assert [e["event_id"] for e in reached] == [answers[0].json()["event_id"]]


def test_the_same_call_twice_opens_one_work_order(desk: Desk) -> None:
    call_id = f"call-{uuid4().hex}"
    ended = ago(3)
    first = desk.call(ended, call_id=call_id)
    assert desk.call(ended, call_id=call_id) == first
    changed = desk.post(
        "intake",
        "/v1/calls",
        {
            "call_id": call_id,
            "ended_at": ended.isoformat(),
            "caller": {"name": "Other", "phone": "+86 1"},
            "address": "elsewhere",
            "fault": {"category": "outage", "description": "x"},
            "agent_id": "a",
        },
    )
    assert changed.status_code == 409, changed.text
    assert call_id in changed.json()["detail"]


def test_bad_bodies_say_what_and_where_and_change_nothing(desk: Desk) -> None:
    before = count_events(desk, "intake")
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
    assert count_events(desk, "intake") == before


def test_impossible_steps_are_refused_with_409_and_change_nothing(desk: Desk) -> None:
    crew, stranger = desk.crew(co_located=False), desk.crew(co_located=False)
    points = minutes_after(ago(20), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    before = count_events(desk, "dispatch")
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
    assert wrong_center.status_code == 409
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
    assert count_events(desk, "dispatch") == before
    # A refused report id is not burnt: once the unit's post makes sense, it is taken.
    desk.ok(desk.report(crew.vehicle_id, "order_received", ago(1), wo))
    assert count_events(desk, "dispatch") == before + 1


def test_every_published_event_carries_its_kafka_offset_on_both_sides(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1, C=2, D=3))
    desk.timeline(wo, set("ABCD"))

    def published() -> list[tuple[str, str, int, int]] | None:
        rows: list[tuple[str, str, int, int]] = []
        for service in ("intake", "dispatch"):
            with psycopg.connect(desk.system.database_urls[service]) as conn:
                rows += conn.execute(
                    """SELECT o.event_id::text, o.topic, o.kafka_partition, o.kafka_offset
                       FROM outbox o JOIN events e USING (event_id) WHERE e.work_order_id = %s""",
                    (wo,),
                ).fetchall()
        return rows if len(rows) == 4 and all(r[3] is not None for r in rows) else None

    produced = {r[0]: r[1:] for r in wait_for("the outbox to stamp offsets", published)}
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    consumed = {
        e["event_id"]: (e["topic"], e["kafka_partition"], e["kafka_offset"]) for e in history
    }
    assert consumed == produced
    assert all(e["recorded_at"] and e["occurred_at"] for e in history)
