"""Drives the running system over HTTP as its users do: the phone system, repair centers, crews."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from tests.support.system import System

Json = dict[str, Any]
POINT_REPORTS = {"E": "order_received", "F": "order_accepted", "G": "departed", "H": "arrived"}


@dataclass(frozen=True)
class Crew:
    repair_center_id: str
    crew_id: str
    vehicle_id: str


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll ``probe`` until it returns something truthy, or fail saying what never happened."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s} s still waiting for {what}")
        time.sleep(0.1)


class Auto(Enum):
    """The harness picks the token (the default)."""

    AUTO = "auto"


AUTO = Auto.AUTO


def _auth(token: "str | Auto | None") -> dict[str, Any]:
    if token is AUTO:
        return {}
    if token is None:
        return {"auth": None}  # no Authorization header at all
    return {"auth": None, "headers": {"Authorization": f"Bearer {token}"}}


class Desk:
    def __init__(self, system: System, client: httpx.Client) -> None:
        self.system = system
        self.http = client

    def url(self, service: str, path: str) -> str:
        return f"{self.system.urls[service]}{path}"

    def get(
        self, service: str, path: str, *, token: "str | Auto | None" = AUTO, **params: str
    ) -> httpx.Response:
        """``token``: by default the one the path's real caller holds (``tests.support.keys``);
        a token of the test's choosing; or ``None`` for a request without one."""
        return self.http.get(self.url(service, path), params=params, **_auth(token))

    def post(
        self, service: str, path: str, body: Json, *, token: "str | Auto | None" = AUTO
    ) -> httpx.Response:
        return self.http.post(self.url(service, path), json=body, **_auth(token))

    def put(
        self, service: str, path: str, body: Json, *, token: "str | Auto | None" = AUTO
    ) -> httpx.Response:
        return self.http.put(self.url(service, path), json=body, **_auth(token))

    def events_recorded(self, service: str) -> int:
        """How many events the service recorded for requests. The escalation ladder raises on its
        own clock (scripted orders are stamped minutes ago), so its streams are left out."""
        with psycopg.connect(self.system.database_urls[service]) as conn:
            row = conn.execute(
                "SELECT count(*) FROM events WHERE stream_id NOT LIKE 'escalation-%'"
            ).fetchone()
        assert row is not None
        return int(row[0])

    def ok(self, response: httpx.Response) -> Json:
        assert response.is_success, (
            f"{response.request.url}: {response.status_code} {response.text}"
        )
        body: Json = response.json()
        return body

    def crew(self, *, co_located: bool) -> Crew:
        tag = uuid4().hex[:8]
        crew = Crew(f"rc-{tag}", f"crew-{tag}", f"veh-{tag}")
        phone = "+86 10 6500 0000"
        self.ok(
            self.put(
                "dispatch",
                f"/v1/repair-centers/{crew.repair_center_id}",
                {"name": f"Repair center {tag}", "phone": phone},
            )
        )
        self.ok(
            self.put(
                "dispatch",
                f"/v1/crews/{crew.crew_id}",
                {
                    "repair_center_id": crew.repair_center_id,
                    "department": "City supply station",
                    "trade": "low_voltage",
                    "co_located": co_located,
                    "leaders": [{"name": "Wang", "phone": phone}, {"name": "Zhao", "phone": phone}],
                },
            )
        )
        self.ok(self.put("dispatch", f"/v1/vehicles/{crew.vehicle_id}", {"crew_id": crew.crew_id}))
        self.system.keys.prepare([crew])  # its dispatcher's and its unit's tokens, in one go
        return crew

    def call(self, ended_at: datetime, call_id: str | None = None) -> str:
        body = {
            "call_id": call_id or f"call-{uuid4().hex}",
            "ended_at": ended_at.isoformat(),
            "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
            "address": "12 Dongsi North St, Dongcheng",
            "location": {"lat": 39.93, "lon": 116.42},
            "fault": {
                "category": "outage",
                "description": "whole building dark",
                "voltage_kv": 0.4,
            },
            "agent_id": "agent-7",
        }
        work_order_id: str = self.ok(self.post("intake", "/v1/calls", body))["work_order_id"]
        return work_order_id

    def issue(self, wo: str, at: datetime, crew: Crew) -> Json:
        return self.ok(
            self.post(
                "intake",
                f"/v1/work-orders/{wo}/issue",
                {
                    "issued_at": at.isoformat(),
                    "duty_chief_id": "chief-1",
                    "repair_center_id": crew.repair_center_id,
                },
            )
        )

    def wait_at_dispatch(self, wo: str) -> Json:
        def issued() -> Json | None:
            response = self.get("dispatch", f"/v1/work-orders/{wo}")
            return (
                response.json()
                if response.status_code == 200 and response.json()["status"] != "opened"
                else None
            )

        body: Json = wait_for(f"order {wo} to reach dispatch", issued)
        return body

    def receipt(self, wo: str, at: datetime, crew: Crew) -> Json:
        return self.ok(
            self.post(
                "dispatch",
                f"/v1/work-orders/{wo}/receipt",
                {
                    "received_at": at.isoformat(),
                    "repair_center_id": crew.repair_center_id,
                },
            )
        )

    def dispatch(self, wo: str, at: datetime, crew: Crew) -> Json:
        return self.ok(
            self.post(
                "dispatch",
                f"/v1/work-orders/{wo}/dispatch",
                {
                    "dispatched_at": at.isoformat(),
                    "crew_id": crew.crew_id,
                    "vehicle_id": crew.vehicle_id,
                    "dispatcher_id": "dispatcher-1",
                },
            )
        )

    def report(
        self,
        vehicle_id: str,
        kind: str,
        at: datetime,
        wo: str | None = None,
        report_id: str | None = None,
    ) -> httpx.Response:
        body: Json = {
            "report_id": report_id or uuid4().hex,
            "type": kind,
            "occurred_at": at.isoformat(),
        }
        if wo is not None:
            body["work_order_id"] = wo
        if kind == "position":
            body["position"] = {"lat": 39.9, "lon": 116.4}
        return self.post("dispatch", f"/v1/vehicles/{vehicle_id}/reports", body)

    def order(self, crew: Crew, points: dict[str, datetime]) -> str:
        """Post the given points A..H in the order a real order goes; returns the work order id."""
        wo = self.call(points["A"])
        if "B" in points:
            self.issue(wo, points["B"], crew)
            self.wait_at_dispatch(wo)
        if "C" in points:
            self.receipt(wo, points["C"], crew)
        if "D" in points:
            self.dispatch(wo, points["D"], crew)
        for point, kind in POINT_REPORTS.items():
            if point in points:
                self.ok(self.report(crew.vehicle_id, kind, points[point], wo))
        return wo

    def timeline(self, wo: str, expect_points: set[str], **params: str) -> Json:
        """The order's timeline once every expected point has reached the timeline service."""

        def complete() -> Json | None:
            response = self.get("timeline", f"/v1/work-orders/{wo}/timeline", **params)
            if response.status_code != 200:
                return None
            body: Json = response.json()
            return body if {p for p, t in body["points"].items() if t} >= expect_points else None

        body: Json = wait_for(f"points {sorted(expect_points)} of {wo} on the timeline", complete)
        return body


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def minutes_after(start: datetime, **offsets: float) -> dict[str, datetime]:
    """Points at the given minutes after ``start``: ``minutes_after(t, A=0, B=1.5)``."""
    return {point: start + timedelta(minutes=m) for point, m in offsets.items()}
