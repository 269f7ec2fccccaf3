"""Hostile and broken input, refused at the edge before anything reads it.

- A body larger than ``MAX_BODY_BYTES`` is 413, whether it says so in ``Content-Length`` or
  streams past it.
- Identifiers in paths and requests use one alphabet, ``EDGE_ID_PATTERN``: letters, digits and
  ``. _ : -``, 1 to 64 of them (stored v1 events keep the looser ``contracts.Identifier``:
  a plate such as "京A·E1001" is data, not an id).
- Unknown fields in a body are 422 (the contracts forbid them), times without a timezone are 422.
"""

import json
from typing import Annotated

from pydantic import StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``messages`` first, then whatever the client sends next (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


EDGE_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
EdgeId = Annotated[str, StringConstraints(pattern=EDGE_ID_PATTERN, min_length=1, max_length=64)]
"""An identifier as the API accepts it."""


class BodyLimit:
    """413 for a request body over ``max_bytes``; nothing is read past the limit.

    The body is read here first (it is at most ``max_bytes``) and handed on whole: a limit
    enforced while the app reads would surface as the framework's 400 for an unreadable body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
