"""Carries a plan out against the running services over HTTP, as their real callers would.

The phone system posts the call (A) and the issue (B); the repair center waits until dispatch
knows the order (``GET /v1/work-orders/{id}`` on dispatch), takes it in (C) and dispatches it
(D); the vehicle's unit posts E, F, G, H and the fault cleared, some late, some twice (the same
report id again), and its position pings. Everything is sent at its planned real time
(open loop); a post that must wait for an earlier answer is sent as soon as it can, and its
latency still counts from the planned time. A post is retried with the same body (so the same
idempotency key) after no answer, a 5xx or a 429, until acknowledged or ``give_up_s`` is over.
"""

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.city import City
from simulator.client import NO_ANSWER, Answer, Http
from simulator.plan import REPORT_TYPES, OrderPlan, Ping, Plan, Step, fault_of
from simulator.schedule import Job, Sample, open_loop, percentile, sleep_until
from simulator.tokens import Tokens, bearer

Json = dict[str, Any]
OnAck = Callable[[OrderPlan, str, str, float], Awaitable[None]]
"""Called with the order, its work order id, the step and when its answer came (monotonic)."""
RETRY = frozenset({429})
POLL_S = 0.05


@dataclass(frozen=True)
class Urls:
    intake: str
    dispatch: str
    timeline: str


async def load_city(city: City, dispatch_url: str, tokens: Tokens) -> int:
    """Define the city's repair centers, crews and vehicles through dispatch's reference-data
    API (``PUT``, so loading twice changes nothing); returns how many definitions were sent."""
    http = Http(dispatch_url, connections=8)
    auth = bearer(tokens.admin)
    sent = 0
    try:
        for path, body in (
            *(
                (f"/v1/repair-centers/{rc.repair_center_id}", rc.body())
                for rc in city.repair_centers
            ),
            *((f"/v1/crews/{c.crew_id}", c.body()) for c in city.crews),
            *((f"/v1/vehicles/{v.vehicle_id}", v.body()) for v in city.vehicles),
        ):
            answer = await http.request("PUT", path, body, headers=auth)
            if not answer.ok:
                raise RuntimeError(f"PUT {path}: {answer.status} {answer.body[:300]!r}")
            sent += 1
    finally:
        await http.aclose()
    return sent


@dataclass
class RunResult:
    samples: list[Sample] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    """Final 4xx answers, by ``kind status``."""
    gave_up: Counter[str] = field(default_factory=Counter)
    stalled: list[str] = field(default_factory=list)
    work_orders: dict[int, str] = field(default_factory=dict)
    """Plan index → the work order id intake gave."""
    started: float = 0.0
    ended: float = 0.0

    def summary(self) -> Json:
        """Counts, rates and latency percentiles (ms, from the intended send) by kind."""
        by_kind: dict[str, list[Sample]] = {}
        for s in self.samples:
            by_kind.setdefault(s.kind, []).append(s)
        took = max(self.ended - self.started, 1e-9)
        kinds: dict[str, Json] = {}
        for kind, samples in sorted(by_kind.items()):
            ok = [
                s.latency_s * 1000
                for s in samples
                if s.status is not None and 200 <= s.status < 300
            ]
            kinds[kind] = {
                "sent": len(samples),
                "acknowledged": len(ok),
                "final_statuses": dict(
                    sorted(Counter(str(s.status or "no answer") for s in samples).items())
                ),
                "p50_ms": _round(percentile(ok, 0.5)),
                "p99_ms": _round(percentile(ok, 0.99)),
            }
        acked = sum(int(k["acknowledged"]) for k in kinds.values())
        return {
            "seconds": round(took, 3),
            "acknowledged_per_s": round(acked / took, 1),
            "kinds": kinds,
            "refused": dict(self.refused),
            "gave_up": dict(self.gave_up),
            "stalled": len(self.stalled),
            "orders": len(self.work_orders),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Driver:
    """One run of ``plan`` against ``urls``; ``await run()`` returns what happened."""

    def __init__(
        self,
        plan: Plan,
        city: City,
        urls: Urls,
        tokens: Tokens,
        *,
        give_up_s: float = 60.0,
        connections: int = 256,
        timeout_s: float = 15.0,
        on_ack: OnAck | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.plan = plan
        self.city = city
        self.urls = urls
        self.tokens = tokens
        self.give_up_s = give_up_s
        self.on_ack = on_ack
        self.tick = tick or (lambda: None)
        self.result = RunResult()
        self._dispatched: set[int] = set()
        self._connections = connections
        self._timeout_s = timeout_s
        self._started_wall = datetime.now(UTC)
        self._t0 = 0.0

    def stamp(self, sim_s: float) -> str:
        return self.plan.stamp(sim_s, self._started_wall).isoformat()

    async def run(self) -> RunResult:
        self.intake = Http(self.urls.intake, self._connections, self._timeout_s)
        self.dispatch = Http(self.urls.dispatch, self._connections, self._timeout_s)
        try:
            self._started_wall = datetime.now(UTC)
            self._t0 = self.result.started = time.monotonic()
            jobs = [Job(o.steps[0].at_s, self._walker(o)) for o in self.plan.orders]
            jobs += [Job(p.at_s, self._pinger(p)) for p in self.plan.pings]
            tasks = await open_loop(jobs, started_at=self._t0)
            await asyncio.gather(*tasks)
            self.result.ended = time.monotonic()
        finally:
            await self.intake.aclose()
            await self.dispatch.aclose()
        return self.result

    # -- sending -------------------------------------------------------------------------------

    async def send(
        self,
        kind: str,
        http: Http,
        method: str,
        path: str,
        body: Json | None,
        token: str | None,
        intended: float,
        retry: frozenset[int] = RETRY,
    ) -> Answer | None:
        """Until acknowledged, refused (a 4xx not in ``retry``) or out of time; records one
        sample. Returns the final answer (None if none came)."""
        sent = time.monotonic()
        deadline = sent + self.give_up_s
        tries = 0
        answer: Answer | None = None
        while True:
            tries += 1
            try:
                answer = await http.request(method, path, body, headers=bearer(token))
            except NO_ANSWER:
                answer = None
            if answer is not None and (
                answer.ok or (answer.status < 500 and answer.status not in retry)
            ):
                break
            delay = _retry_delay(answer, tries)
            if time.monotonic() + delay > deadline:
                self.result.gave_up[kind] += 1
                break
            await asyncio.sleep(delay)
        status = None if answer is None else answer.status
        self.result.samples.append(Sample(kind, intended, sent, time.monotonic(), status, tries))
        if answer is not None and not answer.ok and status is not None and status < 500:
            self.result.refused[f"{kind} {status}"] += 1
        self.tick()
        return answer if answer is not None and answer.ok else None

    # -- the walks -----------------------------------------------------------------------------

    def _walker(self, order: OrderPlan) -> Callable[[float], Awaitable[None]]:
        async def walk(_: float) -> None:
            await self._walk(order)

        return walk

    async def _at(self, step: Step) -> float:
        due = self._t0 + step.at_s
        await sleep_until(due)
        return due

    async def _walk(self, order: OrderPlan) -> None:
        steps = {s.name: s for s in order.steps}
        phone = self.tokens.phone_system
        center = self.tokens.dispatcher.get(order.repair_center_id)
        due = await self._at(steps["A"])
        answer = await self.send(
            "A", self.intake, "POST", "/v1/calls", self._call(order, steps["A"]), phone, due
        )
        if answer is None:
            return self._stall(order, "the call was not acknowledged")
        wo = str(answer.json()["work_order_id"])
        self.result.work_orders[order.index] = wo
        issue = {
            "issued_at": self.stamp(steps["B"].sim_s),
            "duty_chief_id": "chief-sim",
            "repair_center_id": order.repair_center_id,
        }
        due = await self._at(steps["B"])
        if (
            await self.send(
                "B", self.intake, "POST", f"/v1/work-orders/{wo}/issue", issue, phone, due
            )
            is None
        ):
            return self._stall(order, "the issue was not acknowledged")
        if not await self._known_at_dispatch(wo):
            return self._stall(order, "the order never reached dispatch")
        receipt = {
            "received_at": self.stamp(steps["C"].sim_s),
            "repair_center_id": order.repair_center_id,
        }
        due = await self._at(steps["C"])
        # Until dispatch has consumed the issue a receipt may be refused as premature: retried.
        retry = RETRY | {404, 409}
        if (
            await self.send(
                "C",
                self.dispatch,
                "POST",
                f"/v1/work-orders/{wo}/receipt",
                receipt,
                center,
                due,
                retry,
            )
            is None
        ):
            return self._stall(order, "the receipt was not acknowledged")
        dispatched = {
            "dispatched_at": self.stamp(steps["D"].sim_s),
            "crew_id": order.crew_id,
            "vehicle_id": order.vehicle_id,
            "dispatcher_id": "dispatcher-sim",
        }
        due = await self._at(steps["D"])
        if (
            await self.send(
                "D",
                self.dispatch,
                "POST",
                f"/v1/work-orders/{wo}/dispatch",
                dispatched,
                center,
                due,
            )
            is None
        ):
            return self._stall(order, "the dispatch was not acknowledged")
        self._dispatched.add(order.index)
        await asyncio.gather(*(self._report(order, wo, steps[name]) for name in REPORT_TYPES))

    async def _report(self, order: OrderPlan, wo: str, step: Step) -> None:
        body: Json = {
            "report_id": step.report_id,
            "type": REPORT_TYPES[step.name],
            "occurred_at": self.stamp(step.sim_s),
            "work_order_id": wo,
        }
        if step.name == "H":
            body["position"] = {"lat": order.lat, "lon": order.lon}
        if step.name == "cleared":
            body["repair"] = {"cause": "insulation failure", "action": "replaced the fuse"}
        path = f"/v1/vehicles/{order.vehicle_id}/reports"
        device = self.tokens.devices.get(order.vehicle_id)
        due = await self._at(step)
        answer = await self.send(step.name, self.dispatch, "POST", path, body, device, due)
        if answer is not None and self.on_ack is not None:
            await self.on_ack(order, wo, step.name, time.monotonic())
        if step.duplicate_at_s is not None:
            due = self._t0 + step.duplicate_at_s
            await sleep_until(due)
            await self.send("duplicate", self.dispatch, "POST", path, body, device, due)

    async def _known_at_dispatch(self, wo: str) -> bool:
        deadline = time.monotonic() + self.give_up_s
        auth = bearer(self.tokens.auditor)
        while time.monotonic() < deadline:
            try:
                answer = await self.dispatch.request("GET", f"/v1/work-orders/{wo}", headers=auth)
                if answer.ok and answer.json()["status"] != "opened":
                    return True
            except NO_ANSWER:
                pass
            await asyncio.sleep(POLL_S)
        return False

    def _stall(self, order: OrderPlan, why: str) -> None:
        self.result.stalled.append(f"order {order.index}: {why}")

    def _call(self, order: OrderPlan, a: Step) -> Json:
        category, description, voltage = fault_of(order)
        return {
            "call_id": order.call_id,
            "ended_at": self.stamp(a.sim_s),
            "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
            "address": f"{order.index} Dongsi North St",
            "location": {"lat": order.lat, "lon": order.lon},
            "fault": {"category": category, "description": description, "voltage_kv": voltage},
            "agent_id": "agent-sim",
        }

    # -- pings ---------------------------------------------------------------------------------

    def _pinger(self, ping: Ping) -> Callable[[float], Awaitable[None]]:
        async def send(due: float) -> None:
            body: Json = {
                "report_id": ping.report_id,
                "type": "position",
                "occurred_at": self.stamp(ping.sim_s),
                "position": {"lat": ping.lat, "lon": ping.lon},
            }
            # A unit names the order it carries once dispatch has sent it one.
            if ping.order_index is not None and ping.order_index in self._dispatched:
                body["work_order_id"] = self.result.work_orders[ping.order_index]
            path = f"/v1/vehicles/{ping.vehicle_id}/reports"
            await self.send(
                "ping",
                self.dispatch,
                "POST",
                path,
                body,
                self.tokens.devices.get(ping.vehicle_id),
                due,
            )

        return send


def _retry_delay(answer: Answer | None, tries: int) -> float:
    if answer is not None and (value := answer.headers.get("retry-after")) is not None:
        try:
            return max(0.0, float(value)) + random.uniform(0, 0.25)
        except ValueError:
            pass
    return float(min(2.0, 0.05 * 2 ** min(tries, 6))) + random.uniform(0, 0.05)
