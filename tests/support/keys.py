"""Tokens for the harness, issued the way ``make up`` issues them (``tools.tokens``).

A ``Keyring`` belongs to one stack (its topic prefix): at start it issues an admin, a phone
system and an auditor token, and later a dispatcher token per repair center and a device token
per vehicle, the first time a request needs one. ``HARNESS_AUTH`` is an ``httpx.Auth`` for any
client of the harness: it picks, for each request, the token a real caller would hold, from the
service (by the URL's port), the method, the path and the body. ``token=`` on a ``Desk`` call,
or an explicit ``Authorization`` header, wins (the access tests use it).
"""

import asyncio
import json
import re
import threading
import time
from collections.abc import Generator, Iterable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from contracts.access import Role
from contracts.topics import ACCESS
from services.common.kafka import make_producer
from services.common.settings import ServiceSettings
from tools.tokens import Grant, Issued, issued_event

_VEHICLE = re.compile(r"^/v1/vehicles/([^/]+)/(reports|availability)$")
_ORDER_STEP = re.compile(r"^/v1/work-orders/([^/]+)/(receipt|dispatch|recall)$")
_ISSUE = re.compile(r"^/v1/work-orders/([^/]+)/issue$")
_ESCALATION_CALL = re.compile(r"^/v1/escalations/([^/]+)/calls$")
_DEFINITION = re.compile(r"^/v1/(crews|vehicles)/([^/]+)$")
ACCEPT_S = 30.0
NO_CENTER = "rc-harness-none"
"""Whose dispatcher asks about an order or vehicle nobody knows (the answer is 404, as before)."""


class Keyring:
    """The tokens of one stack's run, and what the harness learnt about who owns what."""

    def __init__(self, urls: dict[str, str], bootstrap: str, topic_prefix: str) -> None:
        self.urls = urls
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.dispatchers: dict[str, str] = {}
        self.devices: dict[str, str] = {}
        self.crew_center: dict[str, str] = {}
        self.vehicle_crew: dict[str, str] = {}
        self.order_center: dict[str, str] = {}
        self._lock = threading.RLock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="keyring", daemon=True)
        self._thread.start()
        self._producer: Any = None
        [self.admin, self.phone_system, self.auditor] = self.issue(
            [Grant(Role.ADMIN), Grant(Role.PHONE_SYSTEM), Grant(Role.AUDITOR)],
            services=tuple(urls),
        )

    def close(self) -> None:
        async def stop() -> None:
            if self._producer is not None:
                await self._producer.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # -- issuing -------------------------------------------------------------------------------

    def issue(
        self,
        grants: Iterable[Grant],
        *,
        services: tuple[str, ...] = ("dispatch",),
        ttl: timedelta = timedelta(days=1),
        wait: bool = True,
    ) -> list[str]:
        """Issue tokens through Kafka as ``tools.tokens`` does; by default wait until the
        ``services`` accept each (``GET /v1/whoami``)."""
        made = [issued_event(g, ttl, "test-harness", None) for g in grants]
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            self._publish([event for _, event in made]), self._loop
        )
        future.result(60)
        issued: list[Issued] = [i for i, _ in made]
        if wait:
            for one in issued:
                self.wait_accepted(one.token, services)
        return [i.token for i in issued]

    async def _publish(self, events: list[Any]) -> None:
        if self._producer is None:
            settings = ServiceSettings(
                database_url="postgresql://unused",
                kafka_bootstrap_servers=self.bootstrap,
                topic_prefix=self.topic_prefix,
            )
            self._producer = make_producer(settings)
            await self._producer.start()
        topic = f"{self.topic_prefix}{ACCESS.name}"
        sent = [
            await self._producer.send(topic, value=e.to_json(), key=e.partition_key.encode())
            for e in events
        ]
        await asyncio.gather(*sent)

    def wait_accepted(self, token: str, services: Iterable[str]) -> None:
        deadline = time.monotonic() + ACCEPT_S
        with httpx.Client(timeout=5) as client:
            for service in services:
                url = f"{self.urls[service]}/v1/whoami"
                while True:
                    try:
                        status = client.get(
                            url, headers={"Authorization": f"Bearer {token}"}
                        ).status_code
                    except httpx.TransportError:
                        status = None
                    if status == 200:
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"{service} did not accept a new token in {ACCEPT_S} s"
                        )
                    time.sleep(0.05)

    def dispatcher(self, repair_center_id: str) -> str:
        """The dispatcher token of a repair center, issued on first use."""
        with self._lock:
            if repair_center_id not in self.dispatchers:
                [token] = self.issue([Grant(Role.DISPATCHER, repair_center_id=repair_center_id)])
                self.dispatchers[repair_center_id] = token
            return self.dispatchers[repair_center_id]

    def device(self, vehicle_id: str) -> str:
        """The device token of a vehicle, issued on first use."""
        with self._lock:
            if vehicle_id not in self.devices:
                [token] = self.issue([Grant(Role.DEVICE, vehicle_id=vehicle_id)])
                self.devices[vehicle_id] = token
            return self.devices[vehicle_id]

    def prepare(self, crews: Iterable[Any]) -> None:
        """Issue the dispatcher and device tokens of ``crews`` at once (before a load, say)."""
        with self._lock:
            grants: list[Grant] = []
            keys: list[tuple[dict[str, str], str]] = []
            for crew in crews:
                self.crew_center[crew.crew_id] = crew.repair_center_id
                self.vehicle_crew[crew.vehicle_id] = crew.crew_id
                if crew.repair_center_id not in self.dispatchers and all(
                    k != crew.repair_center_id for _, k in keys
                ):
                    grants.append(Grant(Role.DISPATCHER, repair_center_id=crew.repair_center_id))
                    keys.append((self.dispatchers, crew.repair_center_id))
                if crew.vehicle_id not in self.devices:
                    grants.append(Grant(Role.DEVICE, vehicle_id=crew.vehicle_id))
                    keys.append((self.devices, crew.vehicle_id))
            for (table, key), token in zip(keys, self.issue(grants), strict=True):
                table[key] = token

    # -- choosing ------------------------------------------------------------------------------

    def token_for(self, service: str, method: str, path: str, body: Any) -> str:
        """The token the real caller of this request would hold."""
        body = body if isinstance(body, dict) else {}
        if service == "intake":
            if (m := _ISSUE.match(path)) and isinstance(body.get("repair_center_id"), str):
                self.order_center[m.group(1)] = body["repair_center_id"]
            return self.phone_system
        if service != "dispatch" or method in ("GET", "HEAD"):
            return self.auditor if method in ("GET", "HEAD") else self.admin
        if method == "PUT":
            if (m := _DEFINITION.match(path)) is not None:
                kind, key = m.groups()
                if kind == "crews" and isinstance(body.get("repair_center_id"), str):
                    self.crew_center[key] = body["repair_center_id"]
                elif kind == "vehicles" and isinstance(body.get("crew_id"), str):
                    self.vehicle_crew[key] = body["crew_id"]
            return self.admin
        if (m := _VEHICLE.match(path)) is not None:
            vehicle_id, what = m.groups()
            if what == "reports":
                return self.device(vehicle_id)
            center = self.crew_center.get(self.vehicle_crew.get(vehicle_id, ""))
            return self.dispatcher(center or NO_CENTER)
        if (m := _ORDER_STEP.match(path)) is not None:
            wo, step = m.groups()
            center = (
                (
                    body.get("repair_center_id")
                    if step == "receipt"
                    else self.crew_center.get(body.get("crew_id", ""))
                    if step == "dispatch"
                    else None
                )
                or self.order_center.get(wo)
                or self._lookup_order_center(wo)
            )
            if isinstance(center, str):
                self.order_center.setdefault(wo, center)
                return self.dispatcher(center)
            return self.dispatcher(NO_CENTER)
        if (m := _ESCALATION_CALL.match(path)) is not None:
            center = self._lookup_escalation_center(m.group(1))
            return self.dispatcher(center or NO_CENTER)
        return self.admin

    def _lookup_order_center(self, wo: str) -> str | None:
        answer = httpx.get(
            f"{self.urls['dispatch']}/v1/work-orders/{wo}",
            headers={"Authorization": f"Bearer {self.auditor}"},
            timeout=10,
        )
        center = answer.json().get("repair_center_id") if answer.status_code == 200 else None
        return center if isinstance(center, str) else None

    def _lookup_escalation_center(self, escalation_id: str) -> str | None:
        answer = httpx.get(
            f"{self.urls['dispatch']}/v1/escalations",
            params={"limit": "1000"},
            headers={"Authorization": f"Bearer {self.auditor}"},
            timeout=10,
        )
        if answer.status_code != 200:
            return None
        for item in answer.json()["items"]:
            if item["escalation_id"] == escalation_id:
                center: str = item["repair_center_id"]
                return center
        return None

    def headers(self, service: str, method: str, path: str, body: Any = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(service, method, path, body)}"}


_BY_PORT: dict[int, tuple[Keyring, str]] = {}


def register(keyring: Keyring) -> None:
    """Make ``HARNESS_AUTH`` pick ``keyring``'s tokens for its services' ports."""
    for service, url in keyring.urls.items():
        port = urlsplit(url).port
        assert port is not None
        _BY_PORT[port] = (keyring, service)


def register_url(keyring: Keyring, service: str, url: str) -> None:
    """An extra instance of ``service`` (the faults tier adds some) answers with its tokens."""
    port = urlsplit(url).port
    assert port is not None
    _BY_PORT[port] = (keyring, service)


class HarnessAuth(httpx.Auth):
    """Sets the bearer a real caller would send, unless the request already carries one."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers and request.url.port in _BY_PORT:
            keyring, service = _BY_PORT[request.url.port]
            body: Any = None
            if request.content:
                try:
                    body = json.loads(request.content)
                except ValueError:
                    body = None
            token = keyring.token_for(service, request.method, request.url.path, body)
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


HARNESS_AUTH = HarnessAuth()
