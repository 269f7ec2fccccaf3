"""A steady load of real users' work, and the ledger of everything it sent and was answered.

Orders are walked the way the phone system, the repair center and the crew's GPS unit walk
them: the call (A), the issue (B), the repair center waits until dispatch knows the order, takes
it in (C), sends a crew (D), and the unit reports E, F, G, H and the fault cleared, each with its
own report id. Stamps are the real now. New orders start at a fixed rate whatever happens to the
earlier ones (an open loop: a slow system does not slow its callers down, it piles work up).

Every request is retried with the same body, so the same idempotency key (call id, report id, or
the step itself), until it is acknowledged: after connection errors, timeouts, any 5xx and 429,
honouring ``Retry-After``, for a bounded time. The ledger keeps every attempt and its answer; the
oracle (``tests/support/oracle.py``) holds the acknowledged ones against the timeline.

The load runs on an event loop of its own in a thread, so that a test can kill processes and
restart Kafka or PostgreSQL with plain blocking calls while the load goes on.
"""

import asyncio
import contextlib
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import uuid4

import httpx

from simulator.client import Http
from tests.support.desk import Crew
from tests.support.keys import HARNESS_AUTH, Keyring
from tests.support.system import System

Json = dict[str, Any]
T = TypeVar("T")

REPORT_TYPES = {
    "E": "order_received",
    "F": "order_accepted",
    "G": "departed",
    "H": "arrived",
    "cleared": "fault_cleared",
}
EVENT_TYPES = {
    "A": "CallEnded",
    "B": "WorkOrderIssued",
    "C": "WorkOrderReceived",
    "D": "WorkOrderDispatched",
    "E": "OrderReachedCrew",
    "F": "OrderAcceptedByCrew",
    "G": "CrewDeparted",
    "H": "CrewArrived",
    "cleared": "FaultCleared",
    "position": "VehiclePositionReported",
}
"""The event each step of the load records."""
ORDER_STEPS = ("A", "B", "C", "D", "E", "F", "G", "H", "cleared")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Attempt:
    """One HTTP request: when it left, how long it took, and what came back."""

    step: str
    service: str
    at: float
    took_s: float
    status: int | None
    """None when no answer came (connection refused or reset, timeout)."""
    error: str | None = None
    retry_after: str | None = None


@dataclass
class Request:
    """One logical request (one idempotency key), however many times it was sent."""

    step: str
    service: str
    path: str
    body: Json
    work_order_id: str | None = None
    report_id: str | None = None
    vehicle_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    acked_at: float | None = None
    event_id: str | None = None
    answer: Json | None = None
    replay: str | None = None
    """The ``Idempotent-Replay`` header of the acknowledging answer."""
    refused: str | None = None
    """A final 4xx: the status and body."""
    gave_up: str | None = None
    copies: list["Request"] = field(default_factory=list)
    """For a burst: the same request as sent over each of the connections."""

    @property
    def acked(self) -> bool:
        return self.acked_at is not None

    @property
    def outcome(self) -> str:
        if self.acked:
            return "acknowledged"
        if self.refused is not None:
            return "refused"
        if self.gave_up is not None:
            return "gave_up"
        return "pending"

    @property
    def retried(self) -> bool:
        """Sent more than once over one connection (a burst's copies are not retries)."""
        if self.copies:
            return any(c.retried for c in self.copies)
        return len(self.attempts) > 1

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.step]


@dataclass
class Order:
    crew: Crew
    started_at: float
    work_order_id: str | None = None
    requests: list[Request] = field(default_factory=list)
    done_at: float | None = None
    stalled: str | None = None


class Ledger:
    """Everything the load sent and what it was answered; safe to read while the load runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._attempts: list[Attempt] = []
        self._orders: list[Order] = []
        self.crashes: list[str] = []
        """Load tasks that ended with an error of their own (a bug in the load, not a fault)."""
        self.skipped: Counter[str] = Counter()
        """Starts an open loop skipped because too much was under way already, by generator."""
        self.started = time.monotonic()

    def request(self, request: Request, order: Order | None = None) -> Request:
        with self._lock:
            self._requests.append(request)
            if order is not None:
                order.requests.append(request)
        return request

    def order(self, order: Order) -> Order:
        with self._lock:
            self._orders.append(order)
        return order

    def attempt(self, request: Request, attempt: Attempt) -> None:
        with self._lock:
            request.attempts.append(attempt)
            self._attempts.append(attempt)

    def poll(self, attempt: Attempt) -> None:
        """A read the load made while waiting (not a write: no key, nothing to acknowledge)."""
        with self._lock:
            self._attempts.append(attempt)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def orders(self) -> list[Order]:
        with self._lock:
            return list(self._orders)

    def acked_between(self, start: float, end: float, service: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.acked_at is not None
            and start <= r.acked_at <= end
            and (service is None or r.service == service)
        ]

    def first_ack_after(self, moment: float, service: str | None = None) -> float | None:
        """Seconds from ``moment`` to the first acknowledgement (of ``service``) after it."""
        acks = [r.acked_at for r in self.acked_between(moment, math.inf, service) if r.acked_at]
        return min(acks) - moment if acks else None

    def figures(self) -> dict[str, Any]:
        """The counts a report quotes."""
        requests = self.requests
        attempts = self.attempts
        statuses = Counter(str(a.status) if a.status is not None else "none" for a in attempts)
        errors = Counter(a.error for a in attempts if a.error is not None)
        outcomes = Counter(r.outcome for r in requests)
        shed = [a for a in attempts if a.status in (429, 503)]
        return {
            "orders": len(self.orders),
            "orders_done": sum(o.done_at is not None for o in self.orders),
            "sent": len(requests),
            "http_requests": len(attempts),
            "acknowledged": outcomes["acknowledged"],
            "refused": outcomes["refused"],
            "gave_up": outcomes["gave_up"],
            "pending": outcomes["pending"],
            "retried": sum(r.retried for r in requests),
            "statuses": dict(sorted(statuses.items())),
            "errors": dict(sorted(errors.items())),
            "shed": len(shed),
            "shed_with_retry_after": sum(a.retry_after is not None for a in shed),
            "timeouts": sum("Timeout" in (a.error or "") for a in attempts),
            "longest_request_s": round(max((a.took_s for a in attempts), default=0.0), 3),
            "slowest": _slowest(attempts, self.started),
            "skipped": dict(self.skipped),
        }

    def progress(self) -> str:
        f = self.figures()
        orders = self.orders
        return (
            f"{time.monotonic() - self.started:6.1f}s orders {f['orders_done']}/{len(orders)}"
            f" | requests acked {f['acknowledged']}/{f['sent']} (http {f['http_requests']},"
            f" retried {f['retried']}) | 503 {f['statuses'].get('503', 0)}"
            f" 429 {f['statuses'].get('429', 0)} no-answer {f['statuses'].get('none', 0)}"
            + (f" | skipped {f['skipped']}" if f["skipped"] else "")
        )


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    """Names in lower case."""
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class Poster(Protocol):
    async def post(self, url: str, body: Json) -> Answer: ...


NO_ANSWER = (httpx.HTTPError, OSError, asyncio.IncompleteReadError, TimeoutError, ValueError)
"""What a post raises when no answer came: refused, reset, cut short, timed out, garbled."""


class HttpxPoster:
    """The ordinary client, for the order walks and the bursts."""

    def __init__(self, connections: int, timeout_s: float) -> None:
        self.client = httpx.AsyncClient(
            auth=HARNESS_AUTH,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def post(self, url: str, body: Json) -> Answer:
        response = await self.client.post(url, json=body)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Answer(response.status_code, headers, response.content)

    async def aclose(self) -> None:
        await self.client.aclose()


class RawHttp:
    """A bare keep-alive client for one server, for floods (``simulator.client.Http``).

    httpx spends 2 to 7 ms of CPU per request here, more than the service spends answering
    it, so on a small machine a flood sent with it overloads the load generator, not the
    service. As a fleet of units would, it opens as many connections as it has posts under
    way (up to ``connections``), so the service, not the client, decides what waits.
    """

    def __init__(
        self, base_url: str, connections: int, timeout_s: float, keys: Keyring | None = None
    ) -> None:
        self.base_url = base_url
        self.keys = keys
        self._http = Http(base_url, connections, timeout_s)

    async def post(self, url: str, body: Json) -> Answer:
        assert url.startswith(self.base_url), f"{url} is not on {self.base_url}"
        path = url[len(self.base_url) :]
        headers = (
            {}
            if self.keys is None
            else {"Authorization": f"Bearer {self.keys.token_for('dispatch', 'POST', path, body)}"}
        )
        got = await self._http.request("POST", path, body, headers=headers)
        return Answer(got.status, got.headers, got.body)

    async def aclose(self) -> None:
        await self._http.aclose()


def _slowest(attempts: list[Attempt], since: float) -> str | None:
    if not attempts:
        return None
    a = max(attempts, key=lambda a: a.took_s)
    return (
        f"{a.step} to {a.service}: {a.status or a.error} after {a.took_s:.2f} s, "
        f"sent {a.at - since:.1f} s into the load"
    )


RETRY_ALWAYS = frozenset({429})


def _retry_delay(answer: Answer | None, tries: int) -> float:
    if answer is not None and (value := answer.headers.get("retry-after")) is not None:
        try:
            return max(0.0, float(value)) + random.uniform(0, 0.25)
        except ValueError:
            pass
    return float(min(2.0, 0.1 * 2 ** min(tries, 6))) + random.uniform(0, 0.1)


class Sender:
    """Sends a request until acknowledged, refused, or the time allowed is over."""

    def __init__(self, system: System, ledger: Ledger, give_up_s: float) -> None:
        self.system = system
        self.ledger = ledger
        self.give_up_s = give_up_s

    async def send(
        self,
        poster: Poster,
        request: Request,
        *,
        retry_statuses: frozenset[int] = frozenset(),
        give_up_s: float | None = None,
    ) -> bool:
        deadline = time.monotonic() + (give_up_s or self.give_up_s)
        url = f"{self.system.urls[request.service]}{request.path}"
        tries = 0
        while True:
            tries += 1
            started = time.monotonic()
            answer: Answer | None = None
            try:
                answer = await poster.post(url, request.body)
            except NO_ANSWER as err:
                error = type(err).__name__
                took = time.monotonic() - started
                self.ledger.attempt(
                    request, Attempt(request.step, request.service, started, took, None, error)
                )
            else:
                self.ledger.attempt(
                    request,
                    Attempt(
                        request.step,
                        request.service,
                        started,
                        time.monotonic() - started,
                        answer.status,
                        retry_after=answer.headers.get("retry-after"),
                    ),
                )
                if answer.is_success:
                    body: Json = answer.json()
                    request.answer = body
                    request.event_id = str(body.get("event_id"))
                    request.replay = answer.headers.get("idempotent-replay")
                    request.acked_at = time.monotonic()
                    return True
                code = answer.status
                if code < 500 and code not in RETRY_ALWAYS and code not in retry_statuses:
                    request.refused = f"{code}: {answer.body[:500].decode(errors='replace')}"
                    return False
            delay = _retry_delay(answer, tries)
            if time.monotonic() + delay > deadline:
                request.gave_up = (
                    f"after {tries} tries; last: {answer.status if answer else 'no answer'}"
                )
                return False
            await asyncio.sleep(delay)


class Load:
    """The load's event loop in a thread of its own; generators are started and stopped on it.

    ``with Load(system, crews) as load: load.start_orders(rate=3); ...; load.stop()``.
    """

    def __init__(
        self,
        system: System,
        crews: Sequence[Crew],
        *,
        name: str = "load",
        give_up_s: float = 60.0,
        timeout_s: float = 15.0,
        burst: int = 0,
        progress_every_s: float = 5.0,
    ) -> None:
        self.system = system
        self.crews = list(crews)
        system.keys.prepare(self.crews)  # every unit and center holds its token before the load
        self.name = name
        self.ledger = Ledger()
        self.sender = Sender(system, self.ledger, give_up_s)
        self.timeout_s = timeout_s
        self.burst = burst
        """Post each order's E from this many connections at once (0: from one, as usual)."""
        self.progress_every_s = progress_every_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=name, daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generators: dict[str, asyncio.Event] = {}
        self._copies: list[HttpxPoster] = []
        self._web: HttpxPoster | None = None
        self._flood: RawHttp | None = None
        self._progress_task: asyncio.Task[Any] | None = None
        self._stopped = False

    # -- the thread and its loop -----------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def __enter__(self) -> "Load":
        self._thread.start()
        self.call(self._open())
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.stop(drain_s=0)
            self.call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the load's loop and wait for its result (from the test's thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _open(self) -> None:
        self._web = HttpxPoster(64, self.timeout_s)
        # A burst's copies each get a client, so a connection, of their own.
        self._copies = [HttpxPoster(1, self.timeout_s) for _ in range(self.burst)]
        self._flood = RawHttp(self.system.urls["dispatch"], 1024, self.timeout_s, self.system.keys)
        self._progress_task = self._spawn(self._progress())

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for poster in self._copies:
            await poster.aclose()
        await self.web.aclose()
        await self.flood.aclose()

    @property
    def web(self) -> HttpxPoster:
        assert self._web is not None, "use Load as a context manager"
        return self._web

    @property
    def flood(self) -> RawHttp:
        assert self._flood is not None, "use Load as a context manager"
        return self._flood

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            self.ledger.crashes.append(f"{type(err).__name__}: {err}")

    async def _progress(self) -> None:
        while True:
            await asyncio.sleep(self.progress_every_s)
            print(f"[{self.name}] {self.ledger.progress()}", flush=True)

    # -- generators --------------------------------------------------------------------------

    def _open_loop(
        self,
        name: str,
        rate: float,
        make: Callable[[int], Awaitable[Any]],
        most: int | None = None,
    ) -> None:
        """Start ``make(n)`` at ``rate`` per second whatever became of the earlier ones; with
        ``most``, a start is skipped (and counted) while that many are still under way, as a
        fleet of units has only so many posts under way at once."""
        stop = self._generators[name] = asyncio.Event()
        under_way: set[asyncio.Task[Any]] = set()

        async def spawner() -> None:
            started = time.monotonic()
            spawned = 0
            while not stop.is_set():
                due = int((time.monotonic() - started) * rate) + 1
                while spawned < due:
                    spawned += 1
                    if most is not None and len(under_way) >= most:
                        self.ledger.skipped[name] += 1
                        continue
                    task = self._spawn(make(spawned))
                    under_way.add(task)
                    task.add_done_callback(under_way.discard)
                next_at = started + spawned / rate
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))

        self._spawn(spawner())

    def start_orders(self, rate: float) -> None:
        """New orders at ``rate`` per second, each walked from A to the fault cleared."""

        async def start() -> None:
            self._open_loop("orders", rate, self._walk)

        self.call(start())

    def start_positions(
        self, vehicles: Sequence[str], rate: float, give_up_s: float, most: int = 1024
    ) -> None:
        """Position reports at ``rate`` per second from vehicles picked at random, at most
        ``most`` of them under way (sent, or waiting to be sent again) at once."""

        async def post(_: int) -> None:
            await self._position(random.choice(vehicles), give_up_s)

        async def start() -> None:
            self._open_loop("positions", rate, post, most)

        self.call(start())

    def send(self, request: Request, order: Order | None = None) -> Request:
        """Send one more request, outside the generators, into the same ledger (blocking)."""
        self.ledger.request(request, order)
        self.call(self.sender.send(self.web, request))
        return request

    def stop_generator(self, name: str) -> None:
        self._loop.call_soon_threadsafe(self._generators[name].set)

    def stop(self, drain_s: float = 60.0) -> Ledger:
        """No new work; wait (at most ``drain_s``) for the work under way to be acknowledged."""
        for name in self._generators:
            self.stop_generator(name)

        async def drain() -> None:
            pending = {t for t in self._tasks if t is not self._progress_task and not t.done()}
            if pending and drain_s > 0:
                await asyncio.wait(pending, timeout=drain_s)

        self.call(drain())
        if not self._stopped:
            self._stopped = True
            print(f"[{self.name}] stopped: {self.ledger.progress()}", flush=True)
        return self.ledger

    # -- what users do -------------------------------------------------------------------------

    async def _walk(self, n: int) -> None:
        crew = self.crews[n % len(self.crews)]
        order = self.ledger.order(Order(crew, time.monotonic()))
        send = self.sender.send
        call_id = f"call-{uuid4().hex}"
        a = self._request(order, "A", "intake", "/v1/calls", _call(call_id))
        if not await send(self.web, a):
            return
        assert a.answer is not None
        wo = order.work_order_id = str(a.answer["work_order_id"])
        a.work_order_id = wo
        b = self._request(order, "B", "intake", f"/v1/work-orders/{wo}/issue", _issue(crew))
        if not await send(self.web, b):
            return
        if not await self._known_at_dispatch(wo):
            order.stalled = "the order never reached dispatch"
            return
        c = self._request(order, "C", "dispatch", f"/v1/work-orders/{wo}/receipt", _receipt(crew))
        # Until dispatch has consumed the issue, the receipt is refused as premature.
        if not await send(self.web, c, retry_statuses=frozenset({404, 409})):
            return
        d = self._request(order, "D", "dispatch", f"/v1/work-orders/{wo}/dispatch", _dispatch(crew))
        if not await send(self.web, d):
            return
        for step, kind in REPORT_TYPES.items():
            report_id = f"{step}-{uuid4().hex}"
            body = {
                "report_id": report_id,
                "type": kind,
                "occurred_at": now_iso(),
                "work_order_id": wo,
            }
            path = f"/v1/vehicles/{crew.vehicle_id}/reports"
            report = self._request(order, step, "dispatch", path, body)
            report.report_id, report.vehicle_id = report_id, crew.vehicle_id
            if step == "E" and self.burst:
                sent = await self._burst(report)
            else:
                sent = await send(self.web, report)
            if not sent:
                return
        order.done_at = time.monotonic()

    def _request(self, order: Order, step: str, service: str, path: str, body: Json) -> Request:
        request = Request(step, service, path, body, work_order_id=order.work_order_id)
        return self.ledger.request(request, order)

    async def _known_at_dispatch(self, wo: str) -> bool:
        url = f"{self.system.urls['dispatch']}/v1/work-orders/{wo}"
        deadline = time.monotonic() + self.sender.give_up_s
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = await self.web.client.get(url)
            except httpx.HTTPError as err:
                self.ledger.poll(
                    Attempt(
                        "poll",
                        "dispatch",
                        started,
                        time.monotonic() - started,
                        None,
                        type(err).__name__,
                    )
                )
            else:
                self.ledger.poll(
                    Attempt(
                        "poll",
                        "dispatch",
                        started,
                        time.monotonic() - started,
                        response.status_code,
                        retry_after=response.headers.get("Retry-After"),
                    )
                )
                if response.status_code == 200 and response.json()["status"] != "opened":
                    return True
            await asyncio.sleep(0.25)
        return False

    async def _burst(self, request: Request) -> bool:
        """The same request over ``burst`` connections at once, as a unit that lost its
        answers might: every copy must get the same answer, and one event be recorded."""
        copies = [
            Request(
                request.step,
                request.service,
                request.path,
                request.body,
                request.work_order_id,
                request.report_id,
                request.vehicle_id,
            )
            for _ in self._copies
        ]
        request.copies = copies
        results = await asyncio.gather(
            *(
                self.sender.send(poster, copy)
                for poster, copy in zip(self._copies, copies, strict=True)
            )
        )
        for copy in copies:
            request.attempts.extend(copy.attempts)
        first = next((c for c in copies if c.acked), None)
        if first is not None:
            request.acked_at, request.event_id = first.acked_at, first.event_id
            request.answer, request.replay = first.answer, first.replay
        else:
            request.gave_up = "no copy of the burst was acknowledged"
        return all(results)

    async def _position(self, vehicle_id: str, give_up_s: float) -> Request:
        report_id = f"pos-{uuid4().hex}"
        body = {
            "report_id": report_id,
            "type": "position",
            "occurred_at": now_iso(),
            "position": {"lat": 39.9 + random.uniform(-0.1, 0.1), "lon": 116.4},
        }
        path = f"/v1/vehicles/{vehicle_id}/reports"
        request = self.ledger.request(
            Request("position", "dispatch", path, body, report_id=report_id, vehicle_id=vehicle_id)
        )
        await self.sender.send(self.flood, request, give_up_s=give_up_s)
        return request

    def measure_capacity(self, vehicles: Sequence[str], seconds: float, warm_up_s: float) -> float:
        """Acknowledged position reports per second from a closed loop: one client per vehicle,
        each posting its next report as soon as the last is answered."""

        async def measure() -> float:
            stop_at = time.monotonic() + warm_up_s + seconds
            counted_from = time.monotonic() + warm_up_s
            acks: list[float] = []

            async def unit(vehicle_id: str) -> None:
                while time.monotonic() < stop_at:
                    request = await self._position(vehicle_id, give_up_s=10.0)
                    if request.acked_at is not None and request.acked_at >= counted_from:
                        acks.append(request.acked_at)

            await asyncio.gather(*(unit(v) for v in vehicles))
            return len([t for t in acks if t <= stop_at]) / seconds

        return self.call(measure())


def _call(call_id: str) -> Json:
    return {
        "call_id": call_id,
        "ended_at": now_iso(),
        "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
        "address": "12 Dongsi North St, Dongcheng",
        "location": {"lat": 39.93, "lon": 116.42},
        "fault": {"category": "outage", "description": "whole building dark", "voltage_kv": 0.4},
        "agent_id": "agent-7",
    }


def _issue(crew: Crew) -> Json:
    return {
        "issued_at": now_iso(),
        "duty_chief_id": "chief-1",
        "repair_center_id": crew.repair_center_id,
    }


def _receipt(crew: Crew) -> Json:
    return {"received_at": now_iso(), "repair_center_id": crew.repair_center_id}


def _dispatch(crew: Crew) -> Json:
    return {
        "dispatched_at": now_iso(),
        "crew_id": crew.crew_id,
        "vehicle_id": crew.vehicle_id,
        "dispatcher_id": "dispatcher-1",
    }
