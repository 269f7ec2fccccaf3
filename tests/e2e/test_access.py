"""Who may do what, over HTTP on the running services: tokens, roles, scopes, personal data,
and hostile input (issue 8, ADR 0011)."""

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import psycopg
import pytest

from contracts.access import Role
from services.common.tokens import token_id_of
from tests.support.desk import Desk, Json, ago, minutes_after, wait_for
from tests.support.infra import ROOT
from tools.tokens import Grant, revoke_token

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "dispatch", "timeline")
CALLER = {"name": "Li Na", "phone": "+86 10 8888 0000"}


def issue(desk: Desk, grant: Grant, *, services: tuple[str, ...] = SERVICES) -> str:
    [token] = desk.system.keys.issue([grant], services=services)
    return token


def call_body(call_id: str) -> Json:
    return {
        "call_id": call_id,
        "ended_at": ago(1).isoformat(),
        "caller": CALLER,
        "address": "12 Dongsi North St, Dongcheng",
        "location": {"lat": 39.93, "lon": 116.42},
        "fault": {"category": "outage", "description": "dark", "voltage_kv": 0.4},
        "agent_id": "agent-7",
    }


def refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in str(detail), (word, detail)


# -- who is asking -------------------------------------------------------------------------------


def test_without_a_valid_token_every_service_answers_401_and_records_nothing(desk: Desk) -> None:
    _, made_up = "x", f"rd_{'a' * 12}_{'b' * 43}"
    before = desk.events_recorded("intake")
    for service in SERVICES:
        for token in (None, "nonsense", made_up, desk.system.keys.admin + "x"):
            answer = desk.get(service, "/v1/whoami", token=token)
            refused(answer, 401)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    refused(
        desk.post("intake", "/v1/calls", call_body(f"c-{uuid4().hex}"), token=None), 401, "missing"
    )
    refused(
        desk.post("intake", "/v1/calls", call_body(f"c-{uuid4().hex}"), token=made_up),
        401,
        "invalid token",
    )
    assert desk.events_recorded("intake") == before
    # Health and the API's description are open; readiness needs a token.
    for service in SERVICES:
        assert desk.get(service, "/healthz", token=None).status_code == 200
        assert desk.get(service, "/docs", token=None).status_code == 200
        assert desk.get(service, "/openapi.json", token=None).status_code == 200
        refused(desk.get(service, "/readyz", token=None), 401)


def test_whoami_names_the_role_and_scope(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    keys = desk.system.keys
    me = desk.ok(desk.get("dispatch", "/v1/whoami", token=keys.dispatcher(crew.repair_center_id)))
    assert (me["role"], me["repair_center_id"], me["vehicle_id"]) == (
        "dispatcher",
        crew.repair_center_id,
        None,
    )
    unit = desk.ok(desk.get("dispatch", "/v1/whoami", token=keys.device(crew.vehicle_id)))
    assert (unit["role"], unit["vehicle_id"]) == ("device", crew.vehicle_id)
    for service in SERVICES:
        assert desk.ok(desk.get(service, "/v1/whoami", token=keys.auditor))["role"] == "auditor"


def test_an_expired_token_is_401_saying_so(desk: Desk) -> None:
    [token] = desk.system.keys.issue(
        [Grant(Role.AUDITOR)], services=("timeline",), ttl=timedelta(seconds=3)
    )
    answer = wait_for(
        "the token to expire",
        lambda: (r := desk.get("timeline", "/v1/whoami", token=token)).status_code == 401 and r,
        timeout_s=15,
    )
    refused(answer, 401, "expired")


def test_a_revoked_token_is_refused_within_seconds_everywhere(desk: Desk) -> None:
    token = issue(desk, Grant(Role.AUDITOR))
    token_id = token_id_of(token)
    assert token_id is not None
    system = desk.system
    asyncio.run(
        revoke_token(system.kafka_bootstrap, system.topic_prefix, token_id, "test", "leaked")
    )
    revoked_at = time.monotonic()
    for service in SERVICES:

        def refuses(service: str = service) -> httpx.Response | None:
            answer = desk.get(service, "/v1/whoami", token=token)
            return answer if answer.status_code == 401 else None

        answer = wait_for(f"{service} to refuse the revoked token", refuses, timeout_s=15)
        refused(answer, 401, "revoked")
    assert time.monotonic() - revoked_at < 10


def test_tools_tokens_issue_prints_the_token_alone_and_list_shows_no_secret(desk: Desk) -> None:
    system = desk.system
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": system.kafka_bootstrap,
        "TOPIC_PREFIX": system.topic_prefix,
    }
    crew = desk.crew(co_located=False)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.tokens",
            "issue",
            "--role",
            "device",
            "--vehicle",
            crew.vehicle_id,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.stdout
    [token] = lines
    system.keys.wait_accepted(token, ["dispatch"])
    me = desk.ok(desk.get("dispatch", "/v1/whoami", token=token))
    assert (me["role"], me["vehicle_id"]) == ("device", crew.vehicle_id)
    listed = subprocess.run(
        [sys.executable, "-m", "tools.tokens", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert me["token_id"] in listed
    assert token not in listed
    secret = token.rsplit("_", 1)[1]
    with psycopg.connect(system.database_urls["dispatch"]) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM received_events WHERE body::text LIKE %s", (f"%{secret}%",)
        ).fetchone()
    assert stored == (0,)  # only the hash travels and is kept
    bad = subprocess.run(
        [sys.executable, "-m", "tools.tokens", "issue", "--role", "dispatcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert bad.stdout == ""
    assert "repair_center_id" in bad.stderr


# -- roles and scopes ----------------------------------------------------------------------------


def test_wrong_roles_are_403_with_the_reason(desk: Desk) -> None:
    keys = desk.system.keys
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1))
    before = {s: desk.events_recorded(s) for s in ("intake", "dispatch")}
    # An auditor writes nothing.
    refused(
        desk.post("intake", "/v1/calls", call_body(f"c-{uuid4().hex}"), token=keys.auditor),
        403,
        "'auditor' may not POST /v1/calls",
        "phone_system",
    )
    refused(
        desk.put(
            "dispatch",
            f"/v1/repair-centers/rc-{uuid4().hex[:6]}",
            {"name": "x", "phone": "+86 10 1"},
            token=keys.auditor,
        ),
        403,
        "admin",
    )
    # The phone system does not dispatch, a dispatcher does not define reference data, a
    # device does not record incidents, an admin does not take orders in.
    receipt = {"received_at": ago(1).isoformat(), "repair_center_id": crew.repair_center_id}
    refused(
        desk.post("dispatch", f"/v1/work-orders/{wo}/receipt", receipt, token=keys.phone_system),
        403,
        "'phone_system' may not",
    )
    refused(
        desk.post("dispatch", f"/v1/work-orders/{wo}/receipt", receipt, token=keys.admin),
        403,
        "'admin' may not",
        "dispatcher",
    )
    refused(
        desk.put(
            "dispatch",
            f"/v1/crews/{crew.crew_id}",
            {},
            token=keys.dispatcher(crew.repair_center_id),
        ),
        403,
        "'dispatcher' may not PUT",
    )
    incident = {
        "incident_id": "i-1",
        "link": "repair_center_to_crew",
        "repair_center_id": crew.repair_center_id,
        "started_at": ago(1).isoformat(),
    }
    refused(
        desk.post(
            "dispatch", "/v1/network-incidents", incident, token=keys.device(crew.vehicle_id)
        ),
        403,
        "admin, monitoring",
    )
    # A device does not read the timeline.
    refused(
        desk.get("timeline", f"/v1/work-orders/{wo}/timeline", token=keys.device(crew.vehicle_id)),
        403,
        "'device' may not GET",
    )
    # A route that declares nothing (the timeline's breaches) still has a rule: readers only.
    refused(
        desk.get("timeline", "/v1/breaches", token=keys.device(crew.vehicle_id)),
        403,
        "'device' may not GET /v1/breaches",
        "auditor",
    )
    assert desk.get("timeline", "/v1/breaches", token=keys.auditor).status_code != 403
    assert {s: desk.events_recorded(s) for s in ("intake", "dispatch")} == before


def test_a_device_posts_only_for_its_own_vehicle(desk: Desk) -> None:
    crew, other = desk.crew(co_located=False), desk.crew(co_located=False)
    keys = desk.system.keys
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1, C=2, D=3))
    before = desk.events_recorded("dispatch")
    body = {
        "report_id": uuid4().hex,
        "type": "order_received",
        "occurred_at": ago(1).isoformat(),
        "work_order_id": wo,
    }
    answer = desk.post(
        "dispatch",
        f"/v1/vehicles/{crew.vehicle_id}/reports",
        body,
        token=keys.device(other.vehicle_id),
    )
    refused(answer, 403, f"device of vehicle '{other.vehicle_id}'", crew.vehicle_id)
    # Its own vehicle, but an order dispatched to another: refused by the order itself.
    own = desk.post(
        "dispatch",
        f"/v1/vehicles/{other.vehicle_id}/reports",
        body,
        token=keys.device(other.vehicle_id),
    )
    refused(own, 409, "never dispatched")
    refused(
        desk.get(
            "dispatch",
            f"/v1/vehicles/{crew.vehicle_id}/orders",
            token=keys.device(other.vehicle_id),
        ),
        403,
    )
    assert desk.events_recorded("dispatch") == before
    desk.ok(
        desk.get(
            "dispatch", f"/v1/vehicles/{crew.vehicle_id}/orders", token=keys.device(crew.vehicle_id)
        )
    )
    desk.ok(
        desk.post(
            "dispatch",
            f"/v1/vehicles/{crew.vehicle_id}/reports",
            body,
            token=keys.device(crew.vehicle_id),
        )
    )


def test_a_dispatcher_acts_only_on_its_own_centers_orders_vehicles_and_reads(desk: Desk) -> None:
    crew, other = desk.crew(co_located=False), desk.crew(co_located=False)
    keys = desk.system.keys
    stranger = keys.dispatcher(other.repair_center_id)
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1))
    desk.wait_at_dispatch(wo)
    before = desk.events_recorded("dispatch")
    for body in (
        {"received_at": ago(1).isoformat(), "repair_center_id": other.repair_center_id},
        {"received_at": ago(1).isoformat(), "repair_center_id": crew.repair_center_id},
    ):
        refused(
            desk.post("dispatch", f"/v1/work-orders/{wo}/receipt", body, token=stranger),
            403,
            f"repair center '{other.repair_center_id}' may not",
        )
    refused(
        desk.post(
            "dispatch",
            f"/v1/vehicles/{crew.vehicle_id}/availability",
            {"status": "unavailable", "reason": "meal", "occurred_at": ago(0).isoformat()},
            token=stranger,
        ),
        403,
    )
    refused(desk.get("dispatch", f"/v1/work-orders/{wo}", token=stranger), 403)
    refused(
        desk.get("dispatch", f"/v1/repair-centers/{crew.repair_center_id}/orders", token=stranger),
        403,
    )
    refused(desk.get("dispatch", f"/v1/crews/{crew.crew_id}", token=stranger), 403)
    assert desk.events_recorded("dispatch") == before
    # Its own center's: taken, and dispatching another center's crew is refused.
    own = keys.dispatcher(crew.repair_center_id)
    desk.ok(
        desk.post(
            "dispatch",
            f"/v1/work-orders/{wo}/receipt",
            {"received_at": ago(1).isoformat(), "repair_center_id": crew.repair_center_id},
            token=own,
        )
    )
    refused(
        desk.post(
            "dispatch",
            f"/v1/work-orders/{wo}/dispatch",
            {
                "dispatched_at": ago(0).isoformat(),
                "crew_id": other.crew_id,
                "vehicle_id": other.vehicle_id,
                "dispatcher_id": "d-1",
            },
            token=own,
        ),
        403,
        f"send crew '{other.crew_id}'",
    )
    assert desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}", token=own))["status"] == "received"
    inbox = desk.ok(
        desk.get("dispatch", f"/v1/repair-centers/{crew.repair_center_id}/orders", token=own)
    )
    assert wo in [o["work_order_id"] for o in inbox["items"]]


# -- personal data -------------------------------------------------------------------------------


def test_the_timeline_answers_carry_the_order_not_the_caller(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, minutes_after(ago(10), A=0, B=1))
    desk.timeline(wo, set("AB"))
    keys = desk.system.keys
    for token in (keys.auditor, keys.admin):
        for path in (f"/v1/work-orders/{wo}/events", f"/v1/work-orders/{wo}/timeline"):
            answer = desk.get("timeline", path, token=token)
            desk.ok(answer)
            text = answer.text
            for personal in (CALLER["name"], CALLER["phone"], "Dongsi"):
                assert personal not in text, (path, personal)
    events: list[Json] = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    [call] = [e for e in events if e["event_type"] == "CallEnded"]
    assert call["body"]["payload"]["caller"] == "[redacted]"
    assert call["body"]["payload"]["fault"]["category"] == "outage"  # the order's facts stay
    # A reused call id with another body: 409 naming the fields, never echoing the caller.
    call_id = f"c-{uuid4().hex}"
    desk.ok(desk.post("intake", "/v1/calls", call_body(call_id)))
    again = desk.post("intake", "/v1/calls", {**call_body(call_id), "agent_id": "agent-8"})
    refused(again, 409)
    assert CALLER["name"] not in again.text
    assert CALLER["phone"] not in again.text


# -- hostile and broken input --------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_records_nothing(desk: Desk) -> None:
    before = desk.events_recorded("intake")
    huge = {**call_body(f"c-{uuid4().hex}"), "agent_id": "a" * (70 * 1024)}
    refused(desk.post("intake", "/v1/calls", huge), 413, "larger than")
    # Without Content-Length (chunked), the limit holds too.
    url = desk.url("intake", "/v1/calls")
    chunks = (b"x" * 8192 for _ in range(10))
    streamed = httpx.post(
        url,
        content=chunks,
        timeout=10,
        headers={
            "Authorization": f"Bearer {desk.system.keys.phone_system}",
            "Content-Type": "application/json",
        },
    )
    assert streamed.status_code == 413
    assert desk.events_recorded("intake") == before


def test_ids_outside_the_alphabet_are_422(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    refused(desk.put("dispatch", "/v1/crews/bad%20id", {}), 422, "pattern")
    refused(desk.get("dispatch", f"/v1/vehicles/{'v' * 65}"), 422)
    refused(desk.post("intake", "/v1/calls", call_body("call id with spaces")), 422, "call_id")
    body = {
        "report_id": "r <script>",
        "type": "position",
        "occurred_at": ago(0).isoformat(),
        "position": {"lat": 39.9, "lon": 116.4},
    }
    refused(
        desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", body), 422, "report_id"
    )
    unknown = {**call_body(f"c-{uuid4().hex}"), "extra": 1}
    refused(desk.post("intake", "/v1/calls", unknown), 422, "extra")


def test_a_report_stamped_in_the_future_is_422_with_the_reason(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    before = desk.events_recorded("dispatch")
    ahead = datetime.now(UTC) + timedelta(minutes=10)
    body = {
        "report_id": uuid4().hex,
        "type": "position",
        "occurred_at": ahead.isoformat(),
        "position": {"lat": 39.9, "lon": 116.4},
    }
    answer = desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", body)
    refused(answer, 422, "occurred_at", "after our clock")
    assert desk.events_recorded("dispatch") == before
    body["occurred_at"] = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    desk.ok(desk.post("dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", body))


def test_network_incidents_name_their_center_and_back_dating_needs_an_admin_reason(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    keys = desk.system.keys
    monitoring = issue(desk, Grant(Role.MONITORING), services=("dispatch",))
    # The session's services allow 30 days of back-dating (their histories lie in the past).
    long_ago = ago(40 * 24 * 60)
    incident = {
        "incident_id": f"inc-{uuid4().hex[:8]}",
        "link": "repair_center_to_crew",
        "repair_center_id": crew.repair_center_id,
        "started_at": long_ago.isoformat(),
        "ended_at": (long_ago + timedelta(minutes=30)).isoformat(),
    }
    before = desk.events_recorded("dispatch")
    no_center = {k: v for k, v in incident.items() if k != "repair_center_id"}
    refused(
        desk.post("dispatch", "/v1/network-incidents", no_center, token=keys.admin),
        422,
        "repair_center_id",
    )
    refused(
        desk.post("dispatch", "/v1/network-incidents", incident, token=monitoring), 403, "admin"
    )
    refused(
        desk.post("dispatch", "/v1/network-incidents", incident, token=keys.admin), 422, "reason"
    )
    ahead = {
        **incident,
        "started_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "ended_at": None,
    }
    refused(
        desk.post("dispatch", "/v1/network-incidents", ahead, token=keys.admin), 422, "started_at"
    )
    assert desk.events_recorded("dispatch") == before
    reason = "the link monitor was down; incident reconstructed from the carrier's ticket"
    recorded = desk.post(
        "dispatch", "/v1/network-incidents", {**incident, "reason": reason}, token=keys.admin
    )
    assert recorded.status_code == 201, recorded.text
    payload = recorded.json()["payload"]
    assert payload["reason"] == reason
    assert payload["recorded_by"].startswith("admin:")
    # A fresh one from monitoring needs no reason, and its end posted later is not back-dating.
    fresh = {
        **incident,
        "incident_id": f"inc-{uuid4().hex[:8]}",
        "started_at": ago(5).isoformat(),
        "ended_at": None,
    }
    assert (
        desk.post("dispatch", "/v1/network-incidents", fresh, token=monitoring).status_code == 201
    )
    ended = {**fresh, "ended_at": ago(1).isoformat()}
    assert (
        desk.post("dispatch", "/v1/network-incidents", ended, token=monitoring).status_code == 201
    )
    assert (
        desk.post("dispatch", "/v1/network-incidents", ended, token=monitoring).status_code == 200
    )
