"""The ladder's clock: due rungs fired exactly once, whatever the restarts and instances.

Every ``escalation_poll_s`` the task takes due timers one at a time, each in a transaction of
its own: ``FOR UPDATE SKIP LOCKED`` hands a timer to one instance only, and ``fired_at`` commits
with the raise (its event, outbox row and escalation row) or not at all. A kill -9 mid-way rolls
the whole of it back, so the timer is still due for whoever polls next; a second instance skips
the row another holds and, once that commits, no longer sees it due.
"""

import asyncio
import logging
from datetime import datetime

import asyncpg

from contracts import Crew, RepairCenter, WorkOrderEventT
from contracts.escalations import EscalationRaised, EscalationRule
from domain.errors import NotFound
from domain.escalations import (
    CrewContacts,
    Timer,
    crew_contacts,
    decide_raise,
    not_needed,
    repair_center_contact,
)
from domain.orders import OrderState
from services.common import logs
from services.common.clock import utc_now
from services.common.db import Connection
from services.common.event_store import work_order_events
from services.common.settings import ServiceSettings
from services.common.supervision import Body, TaskHealth
from services.dispatch import reference_data
from services.dispatch.escalation_store import (
    SOURCE,
    record_raised,
    settle_timer,
    take_due_timer,
)
from services.dispatch.settings import DispatchSettings

log = logging.getLogger(__name__)

RAISED = "raised"


def timer_task(pool: asyncpg.Pool, settings: ServiceSettings) -> Body:
    """The supervised body: fire what is due, then sleep ``escalation_poll_s``, until cancelled.

    PostgreSQL or Kafka away makes a poll fail; the error propagates to the supervisor, which
    restarts the body after a pause (nothing half-done survives: each timer is one transaction).
    """
    if not isinstance(settings, DispatchSettings):
        raise TypeError(f"the escalation timers need DispatchSettings, not {type(settings)}")
    dispatch = settings

    async def run(health: TaskHealth) -> None:
        while True:
            await fire_due(pool, dispatch)
            health.ok()
            await asyncio.sleep(dispatch.escalation_poll_s)

    return run


async def fire_due(pool: asyncpg.Pool, settings: DispatchSettings) -> int:
    """Fire every timer due now, one transaction each; how many fired."""
    fired = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            now = utc_now()
            timer = await take_due_timer(conn, now)
            if timer is None:
                return fired
            with logs.bound(work_order_id=timer.work_order_id):  # on every line about it
                outcome = await fire(conn, settings, timer, now)
        fired += 1
        with logs.bound(work_order_id=timer.work_order_id):
            log.info(
                "escalation %s (%s level %d of order %s, due %s): %s",
                timer.escalation_id,
                timer.rule.value,
                timer.level,
                timer.work_order_id,
                timer.due_at.isoformat(),
                outcome,
            )


async def fire(conn: Connection, settings: DispatchSettings, timer: Timer, now: datetime) -> str:
    """Decide on one due timer, held locked: raise its escalation, or say why not; the timer
    is settled either way. Returns the outcome kept on the timer."""
    events = await work_order_events(conn, timer.work_order_id)
    state = OrderState.fold(timer.work_order_id, events)
    if (reason := not_needed(timer, state)) is not None:
        outcome = f"not needed: {reason}"
    else:
        outcome = await _raise(conn, settings, timer, state, now)
    await settle_timer(conn, timer.escalation_id, now, outcome)
    return outcome


async def _raise(
    conn: Connection, settings: DispatchSettings, timer: Timer, state: OrderState, now: datetime
) -> str:
    center = crew = None
    # The issue (B) or the dispatch (D) waited on; not_needed has made sure it is there.
    cause: WorkOrderEventT | None
    if timer.rule is EscalationRule.NOT_RECEIVED:
        cause = state.issued
        assert cause is not None
        center_id = cause.payload.repair_center_id
        try:
            center = repair_center_contact(await reference_data.get(conn, RepairCenter, center_id))
        except NotFound:
            # Intake may issue to a repair center dispatch has never heard of: nobody to phone,
            # and retrying will not make one up. The timer keeps the reason for an operator.
            return _nobody(timer, f"no repair center {center_id!r} in dispatch's reference data")
    else:
        cause = state.dispatched
        assert cause is not None
        crew_id = cause.payload.crew_id
        crew = await _crew(conn, crew_id)
        if crew is None:
            return _nobody(timer, f"no crew {crew_id!r} in dispatch's reference data")
    payload = decide_raise(timer, state, center, crew)
    if payload is None:
        return _nobody(timer, "nobody to phone")
    event = EscalationRaised(
        **EscalationRaised.fields_from(cause),
        work_order_id=timer.work_order_id,
        occurred_at=now,
        recorded_at=now,
        source=SOURCE,
        payload=payload,
    )
    await record_raised(conn, event, settings.topic_prefix)
    return RAISED


async def _crew(conn: Connection, crew_id: str) -> CrewContacts | None:
    try:
        return crew_contacts(crew_id, await reference_data.get(conn, Crew, crew_id))
    except NotFound:
        return None


def _nobody(timer: Timer, why: str) -> str:
    log.error("escalation %s not raised: %s", timer.escalation_id, why)
    return f"not raised: {why}"
