"""A bare HTTP/1.1 keep-alive client, cheap enough to load the services without loading the
load generator itself.

httpx spends milliseconds of CPU per request; on a 2-core machine that is the load generator
saturating, not the service. This client writes the request line and headers by hand and reads
what uvicorn answers (a status line, headers, a ``Content-Length`` or chunked body): about a
tenth of a millisecond per request.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
KEEP_ALIVE_S = 3.0
"""Idle connections older than this are not reused (uvicorn closes them after 5 s)."""
NO_ANSWER = (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError)
"""What a request raises when no usable answer came: refused, reset, cut short, timed out."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Connections to one server, at most ``connections`` at once (a request waits for one)."""

    def __init__(self, base_url: str, connections: int = 64, timeout_s: float = 15.0) -> None:
        parts = urlsplit(base_url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{base_url}: need a host and a port")
        self.base_url = base_url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port
        self.timeout_s = timeout_s
        self._idle: list[tuple[float, Connection]] = []
        self._free = asyncio.Semaphore(connections)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request; raises one of ``NO_ANSWER`` when no answer came."""
        payload = b"" if body is None else json.dumps(body).encode()
        target = path + (f"?{urlencode(params)}" if params else "")
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        async with self._free:
            if (reused := self._reusable()) is not None:
                try:
                    return await self._exchange(reused, raw)
                except (asyncio.IncompleteReadError, ConnectionError) as err:
                    if isinstance(err, asyncio.IncompleteReadError) and err.partial:
                        raise
                    # Closed by the server while idle, before it read this request: send it
                    # again on a fresh connection, as any keep-alive client does.
            connection = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s
            )
            return await self._exchange(connection, raw)

    def _reusable(self) -> Connection | None:
        while self._idle:
            idle_since, connection = self._idle.pop()
            if time.monotonic() - idle_since < KEEP_ALIVE_S and not connection[0].at_eof():
                return connection
            connection[1].close()
        return None

    async def _exchange(self, connection: Connection, raw: bytes) -> Answer:
        reader, writer = connection
        try:
            async with asyncio.timeout(self.timeout_s):
                writer.write(raw)
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                status = int(head[0].split(" ", 2)[1])
                headers: dict[str, str] = {}
                for line in filter(None, head[1:]):
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    data = await _chunked(reader)
                else:
                    data = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((time.monotonic(), connection))
        return Answer(status, headers, data)

    async def aclose(self) -> None:
        while self._idle:
            _, (_, writer) = self._idle.pop()
            writer.close()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
