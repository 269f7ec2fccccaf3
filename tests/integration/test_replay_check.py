"""``make replay-check`` after a mixed workload: the rebuild from offset 0 equals the live one.

A thousand orders go through the running services over HTTP, with late reports (stamped long
before they are posted), duplicated ones (the same report again, and a second report for a
point with another stamp), missing ones (no E; orders that stop at B, D or G and keep running)
and network incidents on some orders' links. Once the timeline has caught up, every row of its
projection is checked against the pure judge at the row's own clock, and the replay check must
find no difference; a planted one makes it fail.
"""

import asyncio
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest

from contracts import AnyEvent, NetworkIncidentRecorded, WorkOrderEvent, parse_event
from contracts.topics import WORK_ORDERS
from domain.findings import timeline_hash
from services.timeline.judging import judged, policy_book
from tests.support.desk import POINT_REPORTS, Crew, Desk, wait_for
from tests.support.infra import ROOT
from tests.support.keys import HARNESS_AUTH
from tests.support.system import System

# The thousand orders take minutes to drive and to replay on two cores.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ORDERS = 1000
CREWS = 20
CONCURRENCY = 24
Json = dict[str, Any]


class Load:
    """Walks one order as the phone system, the repair center and the GPS unit would."""

    def __init__(self, system: System, client: httpx.AsyncClient) -> None:
        self.system = system
        self.client = client

    async def post(self, service: str, path: str, body: Json) -> Json:
        for _ in range(50):  # a shed (503) or a momentary refusal is tried again
            response = await self.client.post(f"{self.system.urls[service]}{path}", json=body)
            if response.status_code < 500 and response.status_code != 429:
                assert response.is_success, f"{path}: {response.status_code} {response.text}"
                answer: Json = response.json()
                return answer
            await asyncio.sleep(0.2)
        raise AssertionError(f"{path}: still {response.status_code}")

    async def report(self, crew: Crew, wo: str, kind: str, at: datetime, report_id: str) -> None:
        body = {"report_id": report_id, "type": kind, "occurred_at": at.isoformat()}
        await self.post(
            "dispatch", f"/v1/vehicles/{crew.vehicle_id}/reports", {**body, "work_order_id": wo}
        )

    async def known_to_dispatch(self, wo: str) -> None:
        url = f"{self.system.urls['dispatch']}/v1/work-orders/{wo}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = await self.client.get(url)
            if response.status_code == 200 and response.json()["status"] != "opened":
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"order {wo} never reached dispatch")

    async def order(self, n: int, crew: Crew, rng: random.Random) -> str:
        base = datetime.now(UTC) - timedelta(minutes=rng.uniform(35, 50))
        offsets = {"A": 0.0, "B": 1.0, "C": 2.5, "D": 3.5, "E": 5.0, "F": 6.0, "G": 8.0, "H": 30.0}
        for point in "BCDEFGH":  # some segments run late: breaches for every party
            offsets[point] += rng.choice((0.0, 0.0, 0.0, 0.0, 1.5))
            offsets[point] = max(offsets[point], offsets[chr(ord(point) - 1)])
        at = {p: base + timedelta(minutes=m) for p, m in offsets.items()}
        kind = n % 10
        last = {5: "B", 4: "D", 1: "G"}.get(kind, "H")  # missing: the order stops and runs on
        call = await self.post(
            "intake",
            "/v1/calls",
            {
                "call_id": f"call-{uuid4().hex}",
                "ended_at": at["A"].isoformat(),
                "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
                "address": "12 Dongsi North St, Dongcheng",
                "location": {"lat": 39.93, "lon": 116.42},
                "fault": {"category": "outage", "description": "dark", "voltage_kv": 0.4},
                "agent_id": "agent-7",
            },
        )
        wo: str = call["work_order_id"]
        issue = {
            "issued_at": at["B"].isoformat(),
            "duty_chief_id": "chief-1",
            "repair_center_id": crew.repair_center_id,
            "department": rng.choice(("City supply station", "Suburban supply station")),
        }
        await self.post("intake", f"/v1/work-orders/{wo}/issue", issue)
        if last == "B":
            return wo
        await self.known_to_dispatch(wo)
        await self.post(
            "dispatch",
            f"/v1/work-orders/{wo}/receipt",
            {"received_at": at["C"].isoformat(), "repair_center_id": crew.repair_center_id},
        )
        await self.post(
            "dispatch",
            f"/v1/work-orders/{wo}/dispatch",
            {
                "dispatched_at": at["D"].isoformat(),
                "crew_id": crew.crew_id,
                "vehicle_id": crew.vehicle_id,
                "dispatcher_id": "dispatcher-1",
            },
        )
        for point, report in POINT_REPORTS.items():
            if point > last:
                break
            if point == "E" and kind == 0:
                continue  # missing: F comes without E
            report_id = uuid4().hex
            await self.report(crew, wo, report, at[point], report_id)
            if kind == 2 and point in "EG":
                await self.report(crew, wo, report, at[point], report_id)  # a retry: once
                later = at[point] + timedelta(minutes=1)
                await self.report(crew, wo, report, later, uuid4().hex)  # another stamp
        return wo

    async def incident(self, crew: Crew, link: str, started: datetime, ended: datetime) -> None:
        await self.post(
            "dispatch",
            "/v1/network-incidents",
            {
                "incident_id": f"inc-{uuid4().hex[:12]}",
                "link": link,
                "repair_center_id": crew.repair_center_id,
                "started_at": started.isoformat(),
                "ended_at": ended.isoformat(),
                "description": "link down",
            },
        )


async def _drive(system: System, crews: list[Crew]) -> list[str]:
    rng = random.Random(7)
    limits = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(auth=HARNESS_AUTH, timeout=30) as client:
        load = Load(system, client)
        now = datetime.now(UTC)
        for i, crew in enumerate(crews[:4]):  # incidents the orders of these crews run into
            link = "customer_service_to_repair_center" if i % 2 else "repair_center_to_crew"
            await load.incident(
                crew, link, now - timedelta(minutes=48), now - timedelta(minutes=38)
            )

        async def one(n: int) -> str:
            async with limits:
                return await load.order(n, crews[n % len(crews)], random.Random(rng.random()))

        return list(await asyncio.gather(*(one(n) for n in range(ORDERS))))


def _scalar(url: str, sql: str, *args: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode(), args).fetchone()
    assert row is not None
    return int(row[0])


def replay_check(system: System) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.replay_check",
            "--database-url",
            system.database_urls["timeline"],
            "--bootstrap-servers",
            system.kafka_bootstrap,
            "--topic-prefix",
            system.topic_prefix,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def workload(system: System, http: httpx.Client) -> list[str]:
    """The thousand orders, driven once for the module; the timeline caught up with them."""
    desk = Desk(system, http)
    crews = [desk.crew(co_located=n % 3 == 0) for n in range(CREWS)]
    started = time.monotonic()
    orders = asyncio.run(_drive(system, crews))
    topic = system.topic(WORK_ORDERS.name)
    sent: list[Any] = []
    for service in ("intake", "dispatch"):
        with psycopg.connect(system.database_urls[service]) as conn:
            rows = conn.execute(b"SELECT event_id FROM outbox WHERE topic = %s", (topic,))
            sent += [row[0] for row in rows]

    def caught_up() -> bool:
        # By event id: other tests of the session may publish to the topic directly.
        got = _scalar(
            system.database_urls["timeline"],
            "SELECT count(*) FROM received_events WHERE event_id = ANY(%s)",
            sent,
        )
        return got == len(sent)

    wait_for("the timeline to consume every work-order event", caught_up, timeout_s=300)
    print(f"\n{ORDERS} orders driven and consumed in {time.monotonic() - started:.0f} s")
    return orders


def test_every_projection_row_is_the_judges_answer_at_its_clock(
    system: System, workload: list[str]
) -> None:
    book = policy_book()
    checked = 0
    with psycopg.connect(system.database_urls["timeline"]) as conn:
        conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one instant
        rows = conn.execute(
            b"SELECT work_order_id, judged_at, hash FROM order_projection"
        ).fetchall()
        bodies: dict[Any, list[AnyEvent]] = {}
        for wo, body in conn.execute(
            b"SELECT work_order_id, body::text FROM received_events WHERE work_order_id IS NOT NULL"
        ):
            bodies.setdefault(wo, []).append(parse_event(body))
        incidents = [
            (recorded, NetworkIncidentRecorded.from_json(body))
            for recorded, body in conn.execute(
                b"SELECT recorded_at, body::text FROM received_events"
                b" WHERE event_type = 'NetworkIncidentRecorded'"
            )
        ]
    assert {str(r[0]) for r in rows} >= set(workload)
    for wo, judged_at, stored in rows:
        events = [e for e in bodies[wo] if isinstance(e, WorkOrderEvent)]
        latest: dict[str, tuple[datetime, Any]] = {}
        for recorded, incident in sorted(incidents, key=lambda x: (x[0], x[1].event_id)):
            if recorded <= judged_at:
                latest[incident.payload.incident_id] = (recorded, incident.payload)
        answer = judged(wo, events, book, judged_at, [p for _, p in latest.values()])
        assert timeline_hash(answer) == stored, f"order {wo} at {judged_at}"
        checked += 1
    assert checked >= ORDERS


def test_the_rebuild_from_offset_0_finds_no_difference(system: System, workload: list[str]) -> None:
    started = time.monotonic()
    result = replay_check(system)
    took = time.monotonic() - started
    last = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
    compared = int(last.split()[1])
    assert last == f"compared {compared} orders, 0 differences"
    assert compared >= ORDERS
    print(f"\nreplay check: {last} in {took:.0f} s")


def test_a_planted_difference_fails_the_check(system: System, workload: list[str]) -> None:
    url = system.database_urls["timeline"]
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            b"SELECT work_order_id, hash FROM order_projection"
            b" WHERE next_due_at IS NULL AND h_at IS NOT NULL LIMIT 1"
        ).fetchone()
        assert row is not None
        wo, good = row
        conn.execute(
            b"UPDATE order_projection SET hash = 'planted' WHERE work_order_id = %s", (wo,)
        )
    try:
        result = replay_check(system)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                b"UPDATE order_projection SET hash = %s WHERE work_order_id = %s", (good, wo)
            )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1, result.stdout
    assert lines[-1].endswith(" orders, 1 differences")
    assert any(str(wo) in line and "live planted" in line for line in lines)
