"""The console's live stream: a repair center's dispatcher hears of a change to its inbox, its
vehicles or its escalations without asking, and no other center's dispatcher may listen."""

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.desk import Desk, ago, wait_for
from tests.support.system import ServiceProcess, free_port

pytestmark = pytest.mark.e2e
EVENT_S = 15.0
"""How long a change may take to be heard (the server's fallback poll is 2 s)."""


class Stream:
    """The ``changed`` events of an open stream, read on a thread of their own."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader: threading.Thread | None = None

    def next(self, what: str, timeout_s: float = EVENT_S) -> dict[str, Any]:
        try:
            return self.events.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"after {timeout_s} s no stream event for {what}") from None

    def quiet(self, what: str, for_s: float = 5.0) -> None:
        """Nothing arrives for ``for_s`` (more than two of the server's fallback polls)."""
        try:
            extra = self.events.get(timeout=for_s)
        except queue.Empty:
            return
        raise AssertionError(f"an event for {what}: {extra}")

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()


@contextmanager
def listening(url: str, headers: dict[str, str]) -> Iterator[Stream]:
    stream = Stream()
    opened = threading.Event()
    failure: list[BaseException] = []
    client = httpx.Client(timeout=httpx.Timeout(10, read=60))

    def read() -> None:
        try:
            with client.stream("GET", url, headers=headers) as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                opened.set()
                kind = None
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:") and kind == "changed":
                        stream.events.put(json.loads(line.partition(":")[2]))
        except (httpx.ReadError, httpx.RemoteProtocolError):
            pass  # closed by the test, on the way out
        except BaseException as err:
            failure.append(err)
            opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stream.reader = reader
    assert opened.wait(10), "the stream did not open"
    if failure:
        raise failure[0]
    try:
        yield stream
    finally:
        client.close()
        reader.join(timeout=5)


def _stream_url(desk: Desk, center: str) -> str:
    return desk.url("dispatch", f"/v1/repair-centers/{center}/stream")


def test_a_new_order_and_a_gps_report_are_heard_on_the_stream(desk: Desk) -> None:
    crew = desk.crew(co_located=True)
    token = desk.system.keys.dispatcher(crew.repair_center_id)
    # A browser's EventSource sends no header: the cookie the sign-in form set is its token.
    with listening(_stream_url(desk, crew.repair_center_id), {"Cookie": f"rd_token={token}"}) as s:
        first = s.next("connecting")
        assert first["repair_center_id"] == crew.repair_center_id
        assert first["version"] == "connected"
        # Nothing changed since the stream opened: nothing more is sent.
        s.quiet("a center where nothing happens")

        wo = desk.call(ago(1))
        desk.issue(wo, ago(0.5), crew)
        changed = s.next("the issued order reaching the inbox")
        assert changed["repair_center_id"] == crew.repair_center_id
        assert changed["version"] != "connected"

        def in_inbox() -> bool:
            inbox = desk.get("dispatch", f"/v1/repair-centers/{crew.repair_center_id}/orders")
            return any(o["work_order_id"] == wo for o in desk.ok(inbox)["items"])

        wait_for("the order in the inbox", in_inbox)
        s.drain()
        report = desk.post(
            "dispatch",
            f"/v1/vehicles/{crew.vehicle_id}/reports",
            {
                "report_id": "pos-1",
                "type": "position",
                "occurred_at": datetime.now(UTC).isoformat(),
                "position": {"lat": 39.91, "lon": 116.39},
            },
        )
        desk.ok(report)
        moved = s.next("the vehicle's new position")
        assert moved["version"] != changed["version"]


def test_a_change_at_another_center_is_not_sent(desk: Desk) -> None:
    watched = desk.crew(co_located=True)
    other = desk.crew(co_located=True)
    token = desk.system.keys.dispatcher(watched.repair_center_id)
    url = _stream_url(desk, watched.repair_center_id)
    with listening(url, {"Authorization": f"Bearer {token}"}) as s:
        s.next("connecting")
        wo = desk.call(ago(1))
        desk.issue(wo, ago(0.5), other)
        desk.wait_at_dispatch(wo)
        s.quiet("a change elsewhere")
        # ...while a change of its own still is.
        mine = desk.call(ago(1))
        desk.issue(mine, ago(0.5), watched)
        s.next("its own new order")


def test_another_centers_dispatcher_is_refused_and_a_stranger_too(
    desk: Desk, http: httpx.Client
) -> None:
    crew = desk.crew(co_located=False)
    elsewhere = desk.crew(co_located=False)
    url = _stream_url(desk, crew.repair_center_id)
    outsider = desk.system.keys.dispatcher(elsewhere.repair_center_id)
    for headers in ({"Authorization": f"Bearer {outsider}"}, {"Cookie": f"rd_token={outsider}"}):
        refused = httpx.get(url, headers=headers, timeout=10)
        assert refused.status_code == 403, refused.text
        assert crew.repair_center_id in refused.json()["detail"]
    assert httpx.get(url, timeout=10).status_code == 401
    unknown = _stream_url(desk, "rc-nowhere")
    admin = {"Authorization": f"Bearer {desk.system.keys.admin}"}
    assert httpx.get(unknown, headers=admin, timeout=10).status_code == 404


def test_the_console_page_is_served_without_a_token_and_the_api_is_not(desk: Desk) -> None:
    base = desk.system.urls["dispatch"]
    page = httpx.get(f"{base}/console/", timeout=10)
    assert page.status_code == 200
    assert 'src="console.js"' in page.text
    for asset in ("/console/console.js", "/console/console.css", "/web/signin.js", "/web/base.css"):
        assert httpx.get(f"{base}{asset}", timeout=10).status_code == 200, asset
    assert httpx.get(f"{base}/console", timeout=10, follow_redirects=True).status_code == 200
    crew = desk.crew(co_located=False)
    vehicles = f"{base}/v1/repair-centers/{crew.repair_center_id}/vehicles"
    assert httpx.get(vehicles, timeout=10).status_code == 401
    token = desk.system.keys.dispatcher(crew.repair_center_id)
    board = httpx.get(vehicles, headers={"Cookie": f"rd_token={token}"}, timeout=10)
    assert board.status_code == 200, board.text
    assert [v["vehicle_id"] for v in board.json()] == [crew.vehicle_id]
    assert board.json()[0]["state"] == "standby"


def test_open_streams_do_not_hold_up_a_graceful_shutdown(desk: Desk) -> None:
    """SIGTERM to an instance with a console listening: the stream ends, the process exits in
    good time (uvicorn waits for open connections; sse-starlette ends its streams)."""
    crew = desk.crew(co_located=True)
    token = desk.system.keys.dispatcher(crew.repair_center_id)
    serving = desk.system.processes["dispatch"]
    extra = ServiceProcess(
        "dispatch-streams",
        "dispatch",
        serving.env,
        free_port(),
        desk.system.logs / "dispatch-streams.log",
    )
    extra.start().wait_ready()
    try:
        url = f"{extra.url}/v1/repair-centers/{crew.repair_center_id}/stream"

        def accepted() -> bool:  # the token reached the extra instance's table long ago
            return httpx.get(
                f"{extra.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}
            ).is_success

        wait_for("the extra instance to know the token", accepted)
        with listening(url, {"Authorization": f"Bearer {token}"}) as s:
            s.next("connecting")
            assert extra.proc is not None
            started = time.monotonic()
            extra.proc.terminate()
            extra.proc.wait(timeout=20)
            assert time.monotonic() - started < 10, "the shutdown waited on the open stream"
            assert s.reader is not None
            s.reader.join(timeout=5)
            assert not s.reader.is_alive(), "the stream did not end with the process"
    finally:
        extra.terminate()
