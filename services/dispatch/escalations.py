"""The escalation ladder's shell (rules 1 and 2): timers in PostgreSQL, raised, phoned, closed.

``follow`` runs in the transaction that records (or consumes) each work-order event: it starts
the rungs the event starts (B: rule 1; each D: rule 2 levels 1 and 2), settles the rungs not yet
due that the event makes needless, and closes the open escalations it ends (C ends rule 1; a
crew's report on the dispatch waited on, or its recall, ends rule 2; the order closed ends all).
``timer_task`` (in ``escalation_timers``) fires the rungs that fall due; the phoning person's
calls are ``escalation_calls``.
"""

from contracts import WorkOrderEventT
from domain.escalations import close_reason, closings, timers_started_by
from domain.orders import OrderState
from services.common.clock import utc_now
from services.common.db import Connection
from services.dispatch.escalation_store import (
    insert_timers,
    lock_open_escalations,
    lock_pending_timers,
    record_closed,
    settle_timer,
)
from services.dispatch.escalation_timers import timer_task
from services.dispatch.settings import DispatchSettings

__all__ = ["follow", "timer_task"]


async def follow(
    conn: Connection, settings: DispatchSettings, state: OrderState, event: WorkOrderEventT
) -> None:
    """Start the rungs ``event`` starts (B, D) and close those it ends (C, E, F, a recall)."""
    now = utc_now()
    await insert_timers(conn, timers_started_by(event, settings.ladder))
    # Timers first, escalations second (see ``lock_pending_timers``): a timer firing right now
    # is waited for, and the escalation it raised is then closed below.
    for timer in await lock_pending_timers(conn, state.work_order_id):
        if (reason := close_reason(timer.rule, timer.waiting_since_event_id, event)) is not None:
            await settle_timer(conn, timer.escalation_id, now, f"not needed: {reason}")
    open_now = {
        r.payload.escalation_id: r for r in await lock_open_escalations(conn, event.work_order_id)
    }
    for payload, reason in closings([r.payload for r in open_now.values()], event):
        raised = open_now[payload.escalation_id]
        await record_closed(conn, raised, event, reason, now, settings.topic_prefix)
