"""Position reports, the commonest request (issue 9): many connections on few vehicles all get
2xx, each report is one event in its vehicle's stream (no version lost to a race), retries are
replays, and an order's steps do not depend on the positions naming it."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import psycopg
import pytest

from tests.support.desk import Desk, Json, ago, minutes_after

pytestmark = pytest.mark.e2e

CONNECTIONS = 32
VEHICLES = 6
PER_CONNECTION = 8


def _position(report_id: str, at: datetime, lat: float, wo: str | None = None) -> Json:
    body: Json = {
        "report_id": report_id,
        "type": "position",
        "occurred_at": at.isoformat(),
        "position": {"lat": lat, "lon": 116.4},
    }
    if wo is not None:
        body["work_order_id"] = wo
    return body


def _stream(desk: Desk, vehicle_id: str) -> list[tuple[int, str, Json]]:
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        rows = conn.execute(
            "SELECT version, event_type, body FROM events WHERE stream_id = %s ORDER BY version",
            (f"vehicle-{vehicle_id}",),
        ).fetchall()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def _status(desk: Desk, vehicle_id: str) -> tuple[Json, datetime, int]:
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        row = conn.execute(
            "SELECT position, position_at, stream_version FROM vehicle_status"
            " WHERE vehicle_id = %s",
            (vehicle_id,),
        ).fetchone()
    assert row is not None, f"no status row for {vehicle_id}"
    return row[0], row[1], int(row[2])


def test_32_connections_on_6_vehicles_are_all_recorded_once_in_turn(desk: Desk) -> None:
    crews = [desk.crew(co_located=False) for _ in range(VEHICLES)]
    run = uuid4().hex[:6]
    start = datetime.now(UTC) - timedelta(minutes=5)

    def post(connection: int, n: int) -> httpx.Response:
        crew = crews[(connection + n) % VEHICLES]
        stamp = start + timedelta(seconds=connection * PER_CONNECTION + n)
        body = _position(f"p-{run}-{connection}-{n}", stamp, 39.9 + connection / 1e3)
        return desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", body)

    def connection(c: int) -> list[httpx.Response]:
        return [post(c, n) for n in range(PER_CONNECTION)]

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        answers = [a for batch in pool.map(connection, range(CONNECTIONS)) for a in batch]
    statuses = sorted({a.status_code for a in answers})
    assert statuses == [201], [a.text for a in answers if a.status_code != 201][:3]
    assert {a.headers["Idempotent-Replay"] for a in answers} == {"false"}

    ids = {a.json()["event_id"] for a in answers}
    assert len(ids) == CONNECTIONS * PER_CONNECTION
    for crew in crews:
        stream = _stream(desk, crew.vehicle_id)
        # Every version once, none skipped: the definition, then one event per report.
        assert [v for v, _, _ in stream] == list(range(1, len(stream) + 1))
        positions = [body for _, kind, body in stream if kind == "VehiclePositionReported"]
        mine = [a.json() for a in answers if a.json()["vehicle_id"] == crew.vehicle_id]
        assert sorted(p["event_id"] for p in positions) == sorted(m["event_id"] for m in mine)
        # Both clocks on every event: the unit's stamp as posted, ours at recording.
        assert all(body["occurred_at"] for body in positions)
        assert all(body["recorded_at"] for body in positions)
        # The last position is the latest by the unit's clock, whatever order the posts came in.
        latest = max(positions, key=lambda p: datetime.fromisoformat(p["occurred_at"]))
        position, position_at, version = _status(desk, crew.vehicle_id)
        assert position_at == datetime.fromisoformat(latest["occurred_at"])
        assert position == latest["payload"]["position"]
        assert version == len(stream)

    # Each report again: the first answer, nothing new.
    again = [post(c, 0) for c in range(4)]
    assert [a.status_code for a in again] == [201] * 4
    assert {a.headers["Idempotent-Replay"] for a in again} == {"true"}
    assert {a.json()["event_id"] for a in again} <= ids
    assert sum(len(_stream(desk, c.vehicle_id)) for c in crews) == VEHICLES + len(ids)


def test_a_late_position_never_moves_the_vehicle_back_and_a_reused_id_is_409(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    path = f"/v1/vehicles/{crew.vehicle_id}/reports"
    stamp = ago(1)
    desk.ok(desk.post("dispatch", path, _position("late-1", stamp, 39.91)))
    desk.ok(desk.post("dispatch", path, _position("late-2", ago(3), 39.93)))  # posted late
    position, position_at, _ = _status(desk, crew.vehicle_id)
    assert position == {"lat": 39.91, "lon": 116.4}
    assert position_at == stamp

    before = len(_stream(desk, crew.vehicle_id))
    reused = desk.post("dispatch", path, _position("late-1", stamp, 39.99))
    assert reused.status_code == 409, reused.text
    assert reused.json()["differs"] == ["position.lat"]
    assert reused.json()["first"]["position"] == {"lat": 39.91, "lon": 116.4}
    fault = {"report_id": "late-1", "type": "device_fault", "occurred_at": ago(1).isoformat()}
    assert desk.post("dispatch", path, fault).status_code == 409
    assert len(_stream(desk, crew.vehicle_id)) == before

    ahead = desk.post("dispatch", path, _position("far", ago(-60), 39.9))
    assert ahead.status_code == 422, ahead.text
    assert ahead.json()["detail"][0]["loc"] == ["body", "occurred_at"]
    unknown = desk.post("dispatch", "/v1/vehicles/veh-nobody/reports", _position("n", ago(1), 39.9))
    assert unknown.status_code in (403, 404), unknown.text
    assert len(_stream(desk, crew.vehicle_id)) == before


def test_positions_naming_an_order_follow_its_dispatch_and_leave_its_steps_alone(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    other = desk.crew(co_located=False)
    points = minutes_after(ago(40), A=0, B=1, C=2, D=3)
    wo = desk.order(crew, points)
    path = f"/v1/vehicles/{crew.vehicle_id}/reports"
    # Not this vehicle's order: 409, nothing recorded.
    refused = desk.post(
        "dispatch", f"/v1/vehicles/{other.vehicle_id}/reports", _position("x", ago(5), 39.9, wo)
    )
    assert refused.status_code == 409, refused.text
    assert len(_stream(desk, other.vehicle_id)) == 1

    first_body = _position("on-0", ago(30), 39.9, wo)
    first = desk.ok(desk.post("dispatch", path, first_body))
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: desk.post(
                    "dispatch", path, _position(f"on-{n}", ago(30 - n / 10), 39.9, wo)
                ),
                range(1, 120),
            )
        )
    assert {a.status_code for a in answers} == {201}
    stream = _stream(desk, crew.vehicle_id)
    named = [b for _, kind, b in stream if kind == "VehiclePositionReported"]
    assert len(named) == 120
    dispatched = desk.ok(desk.get("dispatch", f"/v1/vehicles/{crew.vehicle_id}/orders"))
    assert [i["work_order_id"] for i in dispatched["items"]] == [wo]
    assert {b["work_order_id"] for b in named} == {wo}
    assert len({(b["correlation_id"], b["causation_id"]) for b in named}) == 1

    # The order's next steps are decided as before, beside the 120 positions naming it.
    for kind, minutes in (("order_received", 4), ("order_accepted", 5), ("departed", 6)):
        desk.ok(desk.report(crew.vehicle_id, kind, points["A"] + timedelta(minutes=minutes), wo))
    timeline = desk.timeline(wo, set("ABCDEFG"))
    assert timeline["points"]["G"] is not None
    # The unit asks for the order to be recalled: a new position naming it is refused, but a
    # retry of one accepted before is still a replay, with the first answer.
    recall = {
        "report_id": "recall-1",
        "type": "recall_requested",
        "work_order_id": wo,
        "occurred_at": (points["A"] + timedelta(minutes=7)).isoformat(),
        "reason": "not our trade",
    }
    desk.ok(desk.post("dispatch", path, recall))
    late = desk.post("dispatch", path, _position("on-late", ago(1), 39.9, wo))
    assert late.status_code == 409, late.text
    retry = desk.post("dispatch", path, first_body)
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replay"] == "true"
    assert retry.json() == first
