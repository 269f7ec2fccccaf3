"""What tells a repair center's console that something it shows has changed.

One ``Changes`` per process watches the repair centers that have a console open. It wakes when
PostgreSQL NOTIFYs that dispatch recorded something (every ``append`` NOTIFYs the outbox
channel; ``effects`` NOTIFYs ``CHANNEL`` for an order event consumed from intake, which
appends nothing), when this process records a vehicle's position (which does not NOTIFY:
``Runtime.outbox_written``), or at the latest every ``POLL_S`` (a notification lost while the
listener reconnected, or a position recorded by another instance). It then reads each watched
center's *version*: a digest of the rows the console shows (open orders on the board, its
vehicles' status, open escalations and their calls, capacity alerts). A center whose version moved is told to its streams; a change elsewhere
costs one query per watched center and sends nothing.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from services.common.db import Connection
from services.common.event_store import OUTBOX_CHANNEL
from services.common.settings import ServiceSettings
from services.common.supervision import Body, TaskHealth

log = logging.getLogger(__name__)

CHANNEL = "repair_center_changed"
"""NOTIFYed (payload: the repair center's id) by ``effects`` for every order event it follows."""
POLL_S = 2.0
"""The latest a change is seen without a notification."""
SETTLE_S = 0.1
"""After a wake-up, how long to let a burst of notifications gather before reading versions."""

_VERSION = """
SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', work_order_id, status, vehicle_id, updated_at), ';'
                       ORDER BY work_order_id)
       FROM order_board WHERE repair_center_id = $1 AND is_open),
    (SELECT string_agg(concat_ws(',', v.vehicle_id, v.updated_at, c.updated_at, s.unavailable,
                                 s.device_fault, s.position, s.position_at), ';'
                       ORDER BY v.vehicle_id)
       FROM vehicles v JOIN crews c USING (crew_id) LEFT JOIN vehicle_status s USING (vehicle_id)
      WHERE c.repair_center_id = $1),
    (SELECT string_agg(concat_ws(',', e.escalation_id,
                                 (SELECT count(*) FROM escalation_calls k
                                   WHERE k.escalation_id = e.escalation_id)), ';'
                       ORDER BY e.escalation_id)
       FROM escalations e
      WHERE e.closed_at IS NULL AND e.body->>'repair_center_id' = $1),
    (SELECT string_agg(a.alert_id::text, ';' ORDER BY a.alert_id)
       FROM (SELECT alert_id FROM capacity_alerts WHERE repair_center_id = $1
              ORDER BY raised_at DESC LIMIT 50) a)
))
"""


async def version(conn: Connection, repair_center_id: str) -> str:
    """A digest of what the repair center's console shows: equal digests, nothing to fetch."""
    digest: str = await conn.fetchval(_VERSION, repair_center_id)
    return digest


async def notify(conn: Connection, repair_center_id: str) -> None:
    """Tell the consoles, at commit, that ``repair_center_id``'s orders changed."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repair_center_id)


@dataclass
class _Center:
    version: str | None = None
    queues: set[asyncio.Queue[str]] = field(default_factory=set)


class Changes:
    """The watched repair centers, their last versions, and the queues of their open streams."""

    def __init__(self) -> None:
        self._centers: dict[str, _Center] = {}
        self._woken = asyncio.Event()

    def wake(self, *_: object) -> None:
        """Something was recorded (an asyncpg listener callback): read the versions soon."""
        self._woken.set()

    @asynccontextmanager
    async def watch(
        self, pool: asyncpg.Pool, repair_center_id: str
    ) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue that receives the center's new version whenever it changes after this call;
        only the latest is kept (a slow reader fetches once, not once per change)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        if repair_center_id not in self._centers:
            # The version now, before the caller fetches: a later change is told, this is not.
            async with pool.acquire() as conn:
                current = await version(conn, repair_center_id)
            self._centers.setdefault(repair_center_id, _Center(version=current))
        center = self._centers[repair_center_id]
        center.queues.add(queue)
        try:
            yield queue
        finally:
            center.queues.discard(queue)
            if not center.queues:
                self._centers.pop(repair_center_id, None)

    async def look(self, pool: asyncpg.Pool) -> None:
        """Read each watched center's version; tell its streams when it moved."""
        for repair_center_id, center in list(self._centers.items()):
            async with pool.acquire() as conn:
                current = await version(conn, repair_center_id)
            if current == center.version:
                continue
            center.version = current
            for queue in list(center.queues):
                if queue.full():
                    queue.get_nowait()  # an older version nobody read yet
                queue.put_nowait(current)

    def task(self, pool: asyncpg.Pool, settings: ServiceSettings) -> Body:
        """The supervised body: listen, and look after every wake-up or ``POLL_S``."""

        async def run(health: TaskHealth) -> None:
            listener = await asyncpg.connect(settings.database_url, timeout=5)
            try:
                for channel in (CHANNEL, OUTBOX_CHANNEL):
                    await listener.add_listener(channel, self.wake)
                while True:
                    if listener.is_closed():
                        raise ConnectionError("the consoles' listener lost its connection")
                    self._woken.clear()
                    await self.look(pool)
                    health.ok()
                    try:
                        await asyncio.wait_for(self._woken.wait(), timeout=POLL_S)
                        await asyncio.sleep(SETTLE_S)
                    except TimeoutError:
                        pass
            finally:
                listener.terminate()

        return run


CHANGES = Changes()
"""This process's watcher: its task runs under the runtime, the stream route reads from it."""
