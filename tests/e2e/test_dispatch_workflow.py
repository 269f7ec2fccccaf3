"""The repair center's workflow over HTTP: queues, vehicle states, availability (rule 6), unit
faults (rule 7), recall and re-dispatch (rule 4), candidates, blocked dispatches and capacity
alerts (rule 5), the inbox; with bad input refused and nothing changed."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest

from tests.support.desk import Crew, Desk, Json, ago, minutes_after, wait_for
from tests.support.keys import HARNESS_AUTH

pytestmark = pytest.mark.e2e

PHONE = "+86 10 6500 0000"


@dataclass(frozen=True)
class Fleet:
    """One repair center with crews of one department and trade, a vehicle each."""

    repair_center_id: str
    crews: list[Crew]

    @property
    def vehicles(self) -> list[str]:
        return [c.vehicle_id for c in self.crews]


def fleet(desk: Desk, size: int, *, trade: str = "low_voltage") -> Fleet:
    tag = uuid4().hex[:8]
    center = f"rc-{tag}"
    desk.ok(desk.put("dispatch", f"/v1/repair-centers/{center}", {"name": tag, "phone": PHONE}))
    crews = []
    for i in range(size):
        crew = Crew(center, f"crew-{tag}-{i}", f"veh-{tag}-{i}")
        body = {
            "repair_center_id": center,
            "department": "City supply station",
            "trade": trade,
            "co_located": False,
            "leaders": [
                {"name": f"Wang {i}", "phone": PHONE},
                {"name": f"Zhao {i}", "phone": PHONE},
            ],
        }
        desk.ok(desk.put("dispatch", f"/v1/crews/{crew.crew_id}", body))
        desk.ok(desk.put("dispatch", f"/v1/vehicles/{crew.vehicle_id}", {"crew_id": crew.crew_id}))
        crews.append(crew)
    return Fleet(center, crews)


def received(desk: Desk, crew: Crew, start: datetime | None = None) -> str:
    """An order issued to the crew's repair center and taken in (A, B, C)."""
    return desk.order(crew, minutes_after(start or ago(10), A=0, B=1, C=2))


def vehicle(desk: Desk, vehicle_id: str) -> Json:
    return desk.ok(desk.get("dispatch", f"/v1/vehicles/{vehicle_id}"))


def availability(desk: Desk, vehicle_id: str, status: str, **extra: Any) -> httpx.Response:
    body = {"status": status, "occurred_at": ago(0).isoformat(), **extra}
    if status == "unavailable":
        body.setdefault("reason", "lunch")
    return desk.post("dispatch", f"/v1/vehicles/{vehicle_id}/availability", body)


def dispatch_events(desk: Desk, work_order_id: str) -> list[str]:
    """The event types dispatch recorded in the order's own stream, in order."""
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        rows = conn.execute(
            "SELECT event_type FROM events WHERE stream_id = %s ORDER BY global_position",
            (f"work-order-{work_order_id}",),
        ).fetchall()
    return [r[0] for r in rows]


def test_a_vehicle_holds_a_queue_and_its_state_follows_its_orders(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    assert vehicle(desk, crew.vehicle_id)["state"] == "standby"
    first, second = received(desk, crew), received(desk, crew)
    desk.dispatch(first, ago(7), crew)
    answer = desk.dispatch(second, ago(6), crew)  # a busy unit takes a second order
    assert any("assigned" in w for w in answer["warnings"]), answer
    seen = vehicle(desk, crew.vehicle_id)
    assert (seen["state"], seen["queue"]) == ("assigned", [first, second])
    orders = desk.ok(desk.get("dispatch", f"/v1/vehicles/{crew.vehicle_id}/orders"))
    assert [o["work_order_id"] for o in orders["items"]] == [first, second]
    assert orders["items"][0]["address"]
    assert orders["items"][0]["fault_category"] == "outage"

    desk.ok(desk.report(crew.vehicle_id, "departed", ago(5), first))
    assert vehicle(desk, crew.vehicle_id)["state"] == "en_route"
    desk.ok(desk.report(crew.vehicle_id, "arrived", ago(4), first))
    assert vehicle(desk, crew.vehicle_id)["state"] == "on_site"
    cleared = {
        "report_id": uuid4().hex,
        "type": "fault_cleared",
        "occurred_at": ago(3).isoformat(),
        "work_order_id": first,
        "repair": {"cause": "blown fuse", "action": "fuse replaced", "material": "fuse 63 A"},
    }
    desk.ok(desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", cleared))
    seen = vehicle(desk, crew.vehicle_id)
    assert (seen["state"], seen["queue"]) == ("assigned", [second])

    def repair_on_timeline() -> Json | None:
        response = desk.get("timeline", f"/v1/work-orders/{first}/events")
        if response.status_code != 200:
            return None
        found = [e for e in response.json() if e["event_type"] == "FaultCleared"]
        return found[0] if found else None

    event = wait_for("the repair record on the timeline", repair_on_timeline)
    assert event["body"]["payload"]["repair"]["cause"] == "blown fuse"


def test_a_repair_record_comes_with_fault_cleared_only(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1, C=2, D=3))
    before = dispatch_events(desk, wo)
    body = {
        "report_id": uuid4().hex,
        "type": "arrived",
        "occurred_at": ago(1).isoformat(),
        "work_order_id": wo,
        "repair": {"cause": "x", "action": "y"},
    }
    response = desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", body)
    assert response.status_code == 422, response.text
    assert "fault_cleared" in response.text
    assert dispatch_events(desk, wo) == before


def test_the_last_standby_vehicle_of_a_trade_may_not_go_unavailable(desk: Desk) -> None:
    one, two = fleet(desk, 2).vehicles
    first = desk.ok(availability(desk, one, "unavailable", reason="meal", requested_by="disp-1"))
    assert first["status"] == "unavailable"
    seen = vehicle(desk, one)
    assert seen["state"] == "unavailable"
    assert seen["unavailable"]["reason"] == "meal"

    events_before = desk.events_recorded("dispatch")
    refused = availability(desk, two, "unavailable")
    assert refused.status_code == 409, refused.text
    assert "rule 6" in refused.json()["detail"]
    assert vehicle(desk, two)["state"] == "standby"
    assert desk.events_recorded("dispatch") == events_before

    desk.ok(availability(desk, one, "standby"))
    assert vehicle(desk, one)["state"] == "standby"
    desk.ok(availability(desk, two, "unavailable"))  # now another stands by
    assert vehicle(desk, two)["state"] == "unavailable"


def test_availability_retries_replay_and_bad_bodies_are_422(desk: Desk) -> None:
    one, _ = fleet(desk, 2).vehicles
    body = {"status": "unavailable", "reason": "meal", "occurred_at": ago(0).isoformat()}
    url = f"/v1/vehicles/{one}/availability"
    first = desk.post("dispatch", url, body)
    again = desk.post("dispatch", url, body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    assert desk.post("dispatch", url, {**body, "reason": "other"}).status_code == 409

    before = desk.events_recorded("dispatch")
    for bad, where in (
        ({"status": "away", "occurred_at": ago(0).isoformat()}, "status"),
        ({"status": "unavailable", "occurred_at": ago(0).isoformat()}, "reason"),
        ({"status": "standby", "occurred_at": "2026-12-01T10:00:00"}, "occurred_at"),
    ):
        response = desk.post("dispatch", url, bad)
        assert response.status_code == 422, (bad, response.text)
        assert where in response.text
    assert desk.post("dispatch", "/v1/vehicles/no-such/availability", body).status_code == 404
    assert desk.events_recorded("dispatch") == before


def test_a_faulty_unit_is_shown_and_a_dispatch_to_it_warns(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    desk.ok(desk.report(crew.vehicle_id, "device_fault", ago(3)))
    assert vehicle(desk, crew.vehicle_id)["device_fault"] is not None
    wo = received(desk, crew)
    answer = desk.dispatch(wo, ago(2), crew)
    assert any("faulty" in w for w in answer["warnings"]), answer
    desk.ok(desk.report(crew.vehicle_id, "device_repaired", ago(1)))
    assert vehicle(desk, crew.vehicle_id)["device_fault"] is None


def test_recall_and_redispatch_the_timeline_follows_the_last_attempt(desk: Desk) -> None:
    wrong, right = fleet(desk, 2).crews
    start = ago(30)
    points = minutes_after(start, A=0, B=1, C=2, D=3, E=4)
    wo = desk.order(wrong, points)
    refused = desk.post(
        "dispatch",
        f"/v1/work-orders/{wo}/dispatch",
        {
            "dispatched_at": ago(20).isoformat(),
            "crew_id": right.crew_id,
            "vehicle_id": right.vehicle_id,
            "dispatcher_id": "d-1",
        },
    )
    assert refused.status_code == 409, refused.text  # no second attempt without a recall

    recall = {
        "report_id": uuid4().hex,
        "type": "recall_requested",
        "occurred_at": ago(25).isoformat(),
        "work_order_id": wo,
        "reason": "a 10 kV fault, not the low-voltage crew's business",
    }
    desk.ok(desk.post("dispatch", f"/v1/vehicles/{wrong.vehicle_id}/reports", recall))
    recalls = desk.ok(desk.get("dispatch", f"/v1/vehicles/{wrong.vehicle_id}/orders"))
    assert recalls["items"] == []
    assert [r["work_order_id"] for r in recalls["recalls"]] == [wo]
    assert desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}"))["status"] == "received"

    second = minutes_after(start, D=6, E=7, F=8, G=9, H=30)
    desk.dispatch(wo, second["D"], right)
    for point, kind in (("E", "order_received"), ("F", "order_accepted")):
        desk.ok(desk.report(right.vehicle_id, kind, second[point], wo))
    for point, kind in (("G", "departed"), ("H", "arrived")):
        desk.ok(desk.report(right.vehicle_id, kind, second[point], wo))
    # The first unit's late "accepted" for the recalled attempt is refused: it no longer holds it.
    assert desk.report(wrong.vehicle_id, "order_accepted", ago(24), wo).status_code == 409

    attempts = desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}"))["attempts"]
    assert [(a["vehicle_id"], a["recalled_by"]) for a in attempts] == [
        (wrong.vehicle_id, f"gps-unit:{wrong.vehicle_id}"),
        (right.vehicle_id, None),
    ]
    assert attempts[0]["crew_reports"] == ["OrderReachedCrew"]
    timeline = desk.timeline(wo, set("ABCDEFGH"))
    assert datetime.fromisoformat(timeline["points"]["D"]) == second["D"]
    assert datetime.fromisoformat(timeline["points"]["E"]) == second["E"]
    cd = next(s for s in timeline["segments"] if s["segment"] == "CD")
    assert (cd["status"], cd["responsible"], cd["duration_s"]) == ("breached", "repair_center", 240)
    history = desk.get("timeline", f"/v1/work-orders/{wo}/events")
    types = [e["event_type"] for e in history.json()]
    assert types.count("WorkOrderDispatched") == 2
    assert "WorkOrderRecalled" in types


def test_recall_by_a_dispatcher_replays_and_refuses_what_cannot_be_recalled(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    wo = received(desk, crew)
    body = {"recalled_at": ago(1).isoformat(), "reason": "wrong trade", "requested_by": "d-7"}
    url = f"/v1/work-orders/{wo}/recall"
    before = dispatch_events(desk, wo)
    nothing = desk.post("dispatch", url, body)
    assert nothing.status_code == 409, nothing.text  # not dispatched yet
    assert dispatch_events(desk, wo) == before

    desk.dispatch(wo, ago(3), crew)
    first, again = desk.post("dispatch", url, body), desk.post("dispatch", url, body)
    assert (first.status_code, again.status_code) == (201, 201), (first.text, again.text)
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json()["event_id"] == first.json()["event_id"]
    assert desk.post("dispatch", url, {**body, "reason": "other"}).status_code == 409
    assert dispatch_events(desk, wo).count("WorkOrderRecalled") == 1

    for bad in ({**body, "reason": ""}, {k: v for k, v in body.items() if k != "reason"}):
        assert desk.post("dispatch", url, bad).status_code == 422
    unknown = desk.post("dispatch", f"/v1/work-orders/{uuid4()}/recall", body)
    assert unknown.status_code == 404

    early = desk.post(
        "dispatch",
        f"/v1/work-orders/{wo}/dispatch",
        {
            "dispatched_at": ago(2).isoformat(),
            "crew_id": crew.crew_id,
            "vehicle_id": crew.vehicle_id,
            "dispatcher_id": "d-7",
        },
    )
    assert early.status_code == 409, early.text  # stamped before the recall
    desk.dispatch(wo, ago(0.5), crew)
    desk.ok(desk.report(crew.vehicle_id, "arrived", ago(0.2), wo))
    on_site = desk.post("dispatch", url, {**body, "recalled_at": ago(0.1).isoformat()})
    assert on_site.status_code == 409
    assert "on site" in on_site.text


def test_candidates_rank_trade_then_standby_then_working_units_then_distance(desk: Desk) -> None:
    near, far, busy = fleet(desk, 3).crews
    [other_trade] = fleet(desk, 1, trade="10kv").crews
    del other_trade  # another repair center's: never a candidate
    for crew, (lat, lon) in ((near, (39.931, 116.421)), (far, (39.99, 116.5))):
        position = {
            "report_id": uuid4().hex,
            "type": "position",
            "occurred_at": ago(1).isoformat(),
            "position": {"lat": lat, "lon": lon},
        }
        desk.ok(desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", position))
    desk.dispatch(received(desk, busy), ago(5), busy)
    wo = received(desk, near)
    ranked = desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}/candidates"))
    order = [c["vehicle_id"] for c in ranked["items"]]
    assert order == [near.vehicle_id, far.vehicle_id, busy.vehicle_id], ranked
    first, second, third = ranked["items"]
    assert first["distance_km"] < 1 < second["distance_km"]
    assert third["state"] == "assigned"
    assert third["distance_km"] is None
    assert "standby" in first["reason"]
    assert "km from the fault" in first["reason"]
    assert desk.get("dispatch", f"/v1/work-orders/{uuid4()}/candidates").status_code == 404


def test_blocked_orders_raise_a_capacity_alert_to_the_leaders(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    desk.dispatch(received(desk, crew), ago(5), crew)  # the only vehicle is busy now
    blocked = [received(desk, crew) for _ in range(3)]
    for wo in blocked:
        assert "DispatchBlocked" in dispatch_events(desk, wo)

    def alert() -> Json | None:
        response = desk.get(
            "dispatch", "/v1/capacity-alerts", repair_center_id=crew.repair_center_id
        )
        items = desk.ok(response)["items"]
        return items[0] if items else None

    raised = wait_for("a capacity alert", alert)
    assert sorted(raised["blocked_work_order_ids"]) == sorted(blocked)
    assert {leader["name"] for leader in raised["leaders"]} == {"Wang 0", "Zhao 0"}
    # Each block counts once: the next block alone raises nothing more.
    received(desk, crew)
    response = desk.get("dispatch", "/v1/capacity-alerts", repair_center_id=crew.repair_center_id)
    assert len(desk.ok(response)["items"]) == 1


def test_the_inbox_lists_open_orders_oldest_first_with_time_left(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    old = desk.order(crew, minutes_after(ago(3), A=0, B=1))
    new = desk.order(crew, minutes_after(ago(2), A=0, B=1, C=1.5))
    url = f"/v1/repair-centers/{crew.repair_center_id}/orders"

    def both() -> Json | None:
        body = desk.ok(desk.get("dispatch", url))
        return body if len(body["items"]) == 2 else None

    inbox = wait_for("both orders in the inbox", both)
    assert [o["work_order_id"] for o in inbox["items"]] == [old, new]
    issued, taken_in = inbox["items"]
    assert (issued["status"], issued["running_segment"], issued["limit_s"]) == (
        "issued",
        "BC",
        240,
    )
    assert 100 < issued["time_left_s"] <= 120  # B was two minutes ago
    assert (taken_in["status"], taken_in["running_segment"]) == ("received", "CD")
    only = desk.ok(desk.get("dispatch", url, status="issued"))
    assert [o["work_order_id"] for o in only["items"]] == [old]
    assert desk.get("dispatch", url, status="closed").status_code == 422
    assert desk.get("dispatch", "/v1/repair-centers/no-such/orders").status_code == 404


def test_two_units_of_a_trade_asking_at_once_cannot_both_leave(desk: Desk) -> None:
    vehicles = fleet(desk, 2).vehicles

    def ask(vehicle_id: str) -> int:
        with httpx.Client(auth=HARNESS_AUTH, timeout=10) as client:
            body = {"status": "unavailable", "reason": "meal", "occurred_at": ago(0).isoformat()}
            url = desk.url("dispatch", f"/v1/vehicles/{vehicle_id}/availability")
            return client.post(url, json=body).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(ask, vehicles * 3))
    assert 201 in codes
    assert 409 in codes  # the second vehicle to ask was refused
    states = sorted(vehicle(desk, v)["state"] for v in vehicles)
    assert states == ["standby", "unavailable"]


def test_bad_input_on_the_new_reads_and_reports_is_4xx_and_changes_nothing(desk: Desk) -> None:
    [crew] = fleet(desk, 1).crews
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1, C=2, D=3))
    before = desk.events_recorded("dispatch")
    reports = f"/v1/vehicles/{crew.vehicle_id}/reports"
    no_reason = {"report_id": "r-x", "type": "recall_requested", "occurred_at": ago(1).isoformat()}
    response = desk.post("dispatch", reports, {**no_reason, "work_order_id": wo})
    assert response.status_code == 422
    assert "reason" in response.text
    assert desk.post("dispatch", reports, {**no_reason, "type": "teleported"}).status_code == 422
    repaired = {"report_id": "r-y", "type": "device_repaired", "occurred_at": ago(1).isoformat()}
    assert desk.post("dispatch", "/v1/vehicles/nope/reports", repaired).status_code == 404
    assert desk.get("dispatch", "/v1/vehicles/nope/orders").status_code == 404
    assert desk.get("dispatch", "/v1/vehicles/nope").status_code == 404
    assert desk.get("dispatch", "/v1/capacity-alerts", limit="0").status_code == 422
    assert desk.get("dispatch", "/v1/capacity-alerts", since="yesterday").status_code == 422
    assert desk.get("dispatch", "/v1/work-orders/not-a-uuid/candidates").status_code == 422
    assert desk.events_recorded("dispatch") == before
