"""Plays a ``Storm`` (``simulator.storm``) against the running services, saying what happens.

Each order walks its moves in turn: a move is sent ``gap_s`` after the previous one was
answered and stamped ``lag_s`` before that instant, by the caller a real system would have (the
phone system, the repair center's dispatcher, the vehicle's GPS unit, the communications
department with the admin token). A post without an answer, a 5xx or a 429 is sent again with
the same body; a refusal is printed, counted, and ends that order's walk. Ctrl-C cancels every
walk (the caller prints what was done so far).
"""

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.client import NO_ANSWER, Answer, Http
from simulator.driver import Urls
from simulator.storm import DemoCity, Move, MoveKind, OrderScript, Storm
from simulator.tokens import Tokens, bearer

Json = dict[str, Any]
Say = Callable[[str], None]
RETRY = frozenset({429})
POLL_S = 0.2
DEV_TOKENS = Path(".local/dev-tokens.json")


@dataclass
class DemoResult:
    """What the evening did: the work order of each script, and the notable ids."""

    work_orders: dict[int, str] = field(default_factory=dict)
    completed: set[int] = field(default_factory=set)
    """Scripts whose every move was answered."""
    escalations: dict[int, str] = field(default_factory=dict)
    """Script index → the escalation raised for it and phoned."""
    calls: dict[str, str] = field(default_factory=dict)
    """Escalation id → the call id recorded."""
    incident_recorded: bool = False
    recalled: set[int] = field(default_factory=set)
    duplicates_replayed: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> Json:
        return {
            "orders": len(self.work_orders),
            "completed": len(self.completed),
            "escalations_phoned": len(self.calls),
            "incident_recorded": self.incident_recorded,
            "recalled": len(self.recalled),
            "duplicates_replayed": self.duplicates_replayed,
            "problems": self.problems,
        }


def banner(storm: Storm, urls: Urls, tokens: Tokens, tokens_file: Path | None) -> str:
    """What to open, and which token to paste, before the evening starts."""
    where = tokens_file or DEV_TOKENS
    center = storm.featured
    dispatcher = tokens.dispatcher.get(center, "(none: no dispatcher token for it)")
    auditor = tokens.auditor or "(none)"
    return "\n".join(
        [
            "A stormy evening at the 95598 hotline "
            f"(seed {storm.seed}, {storm.speed:g}× for what goes well, tag {storm.tag}).",
            f"  console  {urls.dispatch}/console/   repair center {center}",
            f"           token: {where} → dispatcher.{center}",
            f"           {dispatcher}",
            f"  desk     {urls.timeline}/desk/",
            f"           token: {where} → auditor",
            f"           {auditor}",
            f"  {len(storm.orders)} calls; about {storm.planned_s():.0f} s of real time, more"
            " while the escalation ladder takes its time (its delays are the dispatch service's).",
            "",
        ]
    )


async def define_city(city: DemoCity, dispatch_url: str, tokens: Tokens) -> int:
    """``PUT`` the city's repair centers, crews and vehicles (as they stand: changes nothing)."""
    http = Http(dispatch_url, connections=4)
    try:
        for path, body in city.definitions():
            answer = await http.request("PUT", path, body, headers=bearer(tokens.admin))
            if not answer.ok:
                raise RuntimeError(f"PUT {path}: {answer.status} {answer.body[:300]!r}")
    finally:
        await http.aclose()
    return len(city.definitions())


class Player:
    """One evening of ``storm`` against ``urls``; ``await play()`` returns what happened."""

    def __init__(
        self,
        storm: Storm,
        urls: Urls,
        tokens: Tokens,
        *,
        say: Say = print,
        escalation_wait_s: float = 330.0,
        give_up_s: float = 30.0,
    ) -> None:
        self.storm = storm
        self.urls = urls
        self.tokens = tokens
        self.say_line = say
        self.escalation_wait_s = escalation_wait_s
        self.give_up_s = give_up_s
        self.result = DemoResult()
        self._incident_started_at: str | None = None
        self._t0 = 0.0

    async def play(self) -> DemoResult:
        self.intake = Http(self.urls.intake, 32)
        self.dispatch = Http(self.urls.dispatch, 64)
        self._t0 = time.monotonic()
        try:
            await asyncio.gather(*(self._walk(order) for order in self.storm.orders))
        finally:
            await self.intake.aclose()
            await self.dispatch.aclose()
        return self.result

    def say(self, order: OrderScript, text: str) -> None:
        elapsed = time.monotonic() - self._t0
        tag = f"#{order.index:02d} {order.story.value:<16}"
        self.say_line(f"[{elapsed:6.1f}s] {tag} {text}")

    # -- one order -----------------------------------------------------------------------------

    async def _walk(self, order: OrderScript) -> None:
        await asyncio.sleep(max(0.0, self._t0 + order.start_s - time.monotonic()))
        for move in order.moves:
            await asyncio.sleep(move.gap_s)
            try:
                done = await self._move(order, move)
            except RefusedError as refused:
                self.result.problems.append(f"order {order.index} {move.kind.value}: {refused}")
                self.say(order, f"REFUSED {move.kind.value}: {refused}")
                return
            if done and move.says:
                self.say(order, move.says)
        self.result.completed.add(order.index)

    def _stamp(self, move: Move) -> str:
        return (datetime.now(UTC) - timedelta(seconds=move.lag_s)).isoformat()

    async def _move(self, order: OrderScript, move: Move) -> bool:
        wo = self.result.work_orders.get(order.index, "")
        center = self.tokens.dispatcher.get(order.repair_center_id)
        match move.kind:
            case MoveKind.CALL:
                answer = await self._post(self.intake, "/v1/calls", self._call(order, move))
                self.result.work_orders[order.index] = str(answer.json()["work_order_id"])
            case MoveKind.ISSUE:
                body: Json = {
                    "issued_at": self._stamp(move),
                    "duty_chief_id": "chief-demo",
                    "repair_center_id": order.repair_center_id,
                    "department": order.department,
                    "trade": order.trade,
                }
                await self._post(self.intake, f"/v1/work-orders/{wo}/issue", body)
            case MoveKind.RECEIPT:
                await self._known_at_dispatch(wo)
                body = {
                    "received_at": self._stamp(move),
                    "repair_center_id": order.repair_center_id,
                }
                # Until dispatch has consumed the issue, a receipt may be refused as premature.
                path = f"/v1/work-orders/{wo}/receipt"
                await self._post(self.dispatch, path, body, center, RETRY | {404, 409})
            case MoveKind.DISPATCH:
                body = {
                    "dispatched_at": self._stamp(move),
                    "crew_id": move.crew_id,
                    "vehicle_id": move.vehicle_id,
                    "dispatcher_id": "dispatcher-demo",
                }
                path = f"/v1/work-orders/{wo}/dispatch"
                answer = await self._post(self.dispatch, path, body, center)
                for warning in answer.json().get("warnings", []):
                    self.say(order, f"dispatch warns: {warning}")
            case MoveKind.RECALL:
                body = {
                    "recalled_at": self._stamp(move),
                    "reason": f"a {order.trade} fault: not that crew's business (rule 4)",
                    "requested_by": "dispatcher-demo",
                }
                await self._post(self.dispatch, f"/v1/work-orders/{wo}/recall", body, center)
                self.result.recalled.add(order.index)
            case MoveKind.REPORT | MoveKind.PING:
                return await self._report(order, move, wo)
            case MoveKind.INCIDENT_STARTED | MoveKind.INCIDENT_ENDED:
                await self._incident(order, move)
            case MoveKind.AWAIT_ESCALATION:
                return await self._escalation(order, move, wo)
        return True

    async def _report(self, order: OrderScript, move: Move, wo: str) -> bool:
        """Post the unit's report (and again, if the script says so); whether the caller is
        still to say what happened."""
        assert move.vehicle_id is not None
        assert move.report_type is not None
        body: Json = {
            "report_id": move.report_id,
            "type": move.report_type,
            "occurred_at": self._stamp(move),
            "work_order_id": wo,
        }
        if move.position is not None:
            body["position"] = {"lat": move.position[0], "lon": move.position[1]}
        if move.point == "cleared":
            body["repair"] = {"cause": "storm damage", "action": "replaced the fuse and the drop"}
        path = f"/v1/vehicles/{move.vehicle_id}/reports"
        device = self.tokens.devices.get(move.vehicle_id)
        await self._post(self.dispatch, path, body, device)
        if move.duplicate_after_s is None:
            return True
        self.say(order, move.says)
        await asyncio.sleep(move.duplicate_after_s)
        again = await self._post(self.dispatch, path, body, device)
        replayed = again.headers.get("idempotent-replay") == "true"
        self.result.duplicates_replayed += replayed
        self.say(
            order,
            f"{move.vehicle_id} sent {move.point} again (same report id): "
            + ("answered as a replay, nothing recorded twice" if replayed else "recorded again?"),
        )
        return False

    async def _incident(self, order: OrderScript, move: Move) -> None:
        stamp = self._stamp(move)
        if move.kind is MoveKind.INCIDENT_STARTED:
            self._incident_started_at = stamp
        body: Json = {
            "incident_id": self.storm.incident_id,
            "link": "repair_center_to_crew",
            "repair_center_id": order.repair_center_id,
            "started_at": self._incident_started_at or stamp,
            "description": "storm: the mobile network to the crews is down",
        }
        if move.kind is MoveKind.INCIDENT_ENDED:
            body["ended_at"] = stamp
        await self._post(self.dispatch, "/v1/network-incidents", body, self.tokens.admin)
        self.result.incident_recorded = True

    async def _escalation(self, order: OrderScript, move: Move, wo: str) -> bool:
        """Wait for the order's rule-1 escalation; the 95598 center phones the repair center
        (recorded by the center's dispatcher, the role that answers escalations)."""
        self.say(order, move.says)
        deadline = time.monotonic() + self.escalation_wait_s
        auth = bearer(self.tokens.auditor)
        raised: Json | None = None
        while raised is None:
            if time.monotonic() > deadline:
                self.result.problems.append(
                    f"order {order.index}: no escalation within {self.escalation_wait_s:.0f} s"
                )
                self.say(order, "no escalation came: taking it in anyway")
                return False
            await asyncio.sleep(POLL_S * 5)
            try:
                answer = await self.dispatch.request(
                    "GET", "/v1/escalations", headers=auth, params={"work_order_id": wo}
                )
            except NO_ANSWER:
                continue
            if answer.ok:
                raised = next(
                    (e for e in answer.json()["items"] if e["rule"] == "not_received"), None
                )
        contact = raised["contacts"][0]
        self.say(
            order,
            f"ESCALATION raised (rule 1, level {raised['level']}, due {raised['due_at'][11:19]}):"
            f" the 95598 center phones {contact['name']} at {contact['phone']}",
        )
        call = {
            "called_at": datetime.now(UTC).isoformat(),
            "phone": contact["phone"],
            "reached": True,
            "note": "the order was missed in the storm; they take it in now",
        }
        path = f"/v1/escalations/{raised['escalation_id']}/calls"
        center = self.tokens.dispatcher.get(order.repair_center_id)
        answer = await self._post(self.dispatch, path, call, center)
        self.result.escalations[order.index] = raised["escalation_id"]
        self.result.calls[raised["escalation_id"]] = answer.json()["call_id"]
        self.say(order, "call recorded against the escalation")
        return False

    # -- sending -------------------------------------------------------------------------------

    async def _post(
        self,
        http: Http,
        path: str,
        body: Json,
        token: str | None = None,
        retry: frozenset[int] = RETRY,
    ) -> Answer:
        """Until acknowledged; a retry repeats the body. Raises ``RefusedError`` on a final
        refusal or when no answer came within ``give_up_s``."""
        token = token if token is not None else self._default_token(http)
        deadline = time.monotonic() + self.give_up_s
        tries = 0
        while True:
            tries += 1
            try:
                answer: Answer | None = await http.request(
                    "POST", path, body, headers=bearer(token)
                )
            except NO_ANSWER:
                answer = None
            if answer is not None and answer.ok:
                return answer
            if answer is not None and answer.status < 500 and answer.status not in retry:
                raise RefusedError(f"{path}: {answer.status} {_why(answer)}")
            if time.monotonic() > deadline:
                status = "no answer" if answer is None else answer.status
                raise RefusedError(f"{path}: gave up after {tries} tries ({status})")
            await asyncio.sleep(min(2.0, 0.1 * 2 ** min(tries, 4)) + random.uniform(0, 0.05))

    def _default_token(self, http: Http) -> str | None:
        return self.tokens.phone_system if http is self.intake else None

    async def _known_at_dispatch(self, wo: str) -> None:
        deadline = time.monotonic() + self.give_up_s
        auth = bearer(self.tokens.auditor)
        while time.monotonic() < deadline:
            try:
                answer = await self.dispatch.request("GET", f"/v1/work-orders/{wo}", headers=auth)
                if answer.ok and answer.json()["status"] != "opened":
                    return
            except NO_ANSWER:
                pass
            await asyncio.sleep(POLL_S / 4)

    def _call(self, order: OrderScript, move: Move) -> Json:
        category, description, voltage = order.fault
        return {
            "call_id": order.call_id,
            "ended_at": self._stamp(move),
            "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
            "address": order.address,
            "location": {"lat": order.location[0], "lon": order.location[1]},
            "fault": {"category": category, "description": description, "voltage_kv": voltage},
            "agent_id": "agent-demo",
        }


class RefusedError(Exception):
    """A post the services refused (a 4xx), or that went unanswered for too long."""


def _why(answer: Answer) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.body[:200].decode(errors="replace")
    return json.dumps(body)[:300]
