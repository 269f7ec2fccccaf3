"""Load shedding: past a fixed number of requests in flight, answer 503 at once.

Without a bound, an overloaded service queues requests in memory until every client times out
and memory grows with the queue. With it, a client that is turned away learns so at once, with
``Retry-After``, and retries (GPS units and the phone system do); the requests already admitted
finish in good time.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import metrics

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})
RETRY_AFTER_S = 1


class LoadShedding:
    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            metrics.count_shed(scope.get("method", ""))
            await _overloaded(send, self.in_flight)
            return
        # In flight until its answer starts: the work is done by then, and a console's event
        # stream, answered at once and open for a shift, does not hold a place for hours.
        self.in_flight += 1
        counted = True

        async def answering(message: Message) -> None:
            nonlocal counted
            if counted and message["type"] == "http.response.start":
                counted = False
                self.in_flight -= 1
            await send(message)

        try:
            await self.app(scope, receive, answering)
        finally:
            if counted:
                self.in_flight -= 1


async def _overloaded(send: Send, in_flight: int) -> None:
    body = json.dumps(
        {"detail": f"overloaded: {in_flight} requests in flight; retry after {RETRY_AFTER_S} s"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
