"""What dispatch keeps in step with every work-order event, in the transaction that records it.

An event dispatch writes (C, D, E–H, a recall) and one it consumes from intake (A, B, the
callback) go through the same ``follow``: the order board (the repair centers' inboxes and the
vehicles' queues), the escalation ladder's timers and the capacity check (rule 5) never disagree
with the events.
"""

from contracts import AnyEvent, WorkOrderEventT, WorkOrderRecalled
from domain.orders import OrderState
from services.common.commands import Follow
from services.common.consumer import Handler
from services.common.db import Connection
from services.common.event_store import work_order_events
from services.dispatch import board, capacity, escalations, stream
from services.dispatch.settings import DispatchSettings


def follower(settings: DispatchSettings) -> Follow:
    async def follow(conn: Connection, state: OrderState, event: WorkOrderEventT) -> None:
        await board.refresh(conn, state)
        if isinstance(event, WorkOrderRecalled):
            await board.note_recall(conn, event)
        await escalations.follow(conn, settings, state, event)
        await capacity.follow(conn, settings, state, event)
        if state.issued is not None:  # the consoles of its repair center, at commit
            await stream.notify(conn, state.issued.payload.repair_center_id)

    return follow


def consumed(settings: DispatchSettings) -> Handler:
    """The consumer's effect for an event from intake, already kept in ``received_events``."""
    follow = follower(settings)

    async def apply(conn: Connection, event: AnyEvent) -> None:
        if isinstance(event, WorkOrderEventT):
            events = await work_order_events(conn, event.work_order_id)
            state = OrderState.fold(event.work_order_id, events)
            await follow(conn, state, event)

    return apply
