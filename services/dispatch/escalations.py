"""The escalation ladder's shell (rules 1 and 2): timers in PostgreSQL, raised, phoned, closed.

(Being built: the lead wires ``follow`` and ``timer_task``; the ladder's owner fills them in.)
"""

import asyncio

import asyncpg

from contracts import WorkOrderEventT
from domain.orders import OrderState
from services.common.db import Connection
from services.common.settings import ServiceSettings
from services.common.supervision import Body, TaskHealth
from services.dispatch.settings import DispatchSettings


async def follow(
    conn: Connection, settings: DispatchSettings, state: OrderState, event: WorkOrderEventT
) -> None:
    """Start the rungs ``event`` starts (B, D) and close those it ends (C, E, F, a recall)."""


def timer_task(pool: asyncpg.Pool, settings: ServiceSettings) -> Body:
    async def run(health: TaskHealth) -> None:
        health.ok()
        await asyncio.Event().wait()

    return run
