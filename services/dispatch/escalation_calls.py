"""The phoning person records each call made for an escalation, once per natural key.

The key is the escalation, the instant of the call and the number dialled: posting the same
call again replays the first answer, another body under that key (say ``reached`` flipped) is 409
with the first body. A level-1 ``not_taken`` call that reached nobody brings level 2 forward to
the call (``timer_after_call``), so the crew's leaders are named at once.
"""

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from contracts import Contract
from contracts.envelope import Phone, Text
from contracts.escalations import EscalationCallPayload, EscalationCallRecorded, Notify
from domain.errors import NotFound
from domain.escalations import call_id, call_key, check_call_stamp, timer_after_call
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.idempotency import Answered, Scope, once
from services.common.runtime import Runtime
from services.dispatch.escalation_store import (
    bring_forward,
    escalation_order,
    lock_escalation,
    lock_pending_timers,
    record_call,
)


class CallRequest(Contract):
    """One attempt to phone someone for an escalation."""

    called_at: AwareDatetime = Field(description="When the call was made, by the caller's clock.")
    phone: Phone = Field(description="The number dialled; any number, not only those named.")
    reached: bool = Field(description="Whether someone answered who can act on the order.")
    note: Text | None = None


class CallAnswer(BaseModel):
    """What a recorded call answers, the same for the first post and its retries."""

    escalation_id: UUID
    call_id: str
    event_id: UUID
    called_at: datetime
    phone: str
    reached: bool
    recorded_at: datetime
    level_2_due_at: datetime | None = Field(
        description="When this call brought level 2 forward, when level 2 is now due."
    )


CALLS: Scope[CallRequest, CallAnswer] = Scope(
    name="escalation-call",
    noun="call",
    request=TypeAdapter(CallRequest),
    answer=TypeAdapter(CallAnswer),
)


def _source(notify: Notify, repair_center_id: str) -> str:
    """Who phones: the 95598 center for rule 1, the repair center for rule 2."""
    if notify is Notify.CUSTOMER_SERVICE_CENTER:
        return "customer-service-center"
    return f"repair-center:{repair_center_id}"


async def record(
    runtime: Runtime, escalation_id: UUID, request: CallRequest
) -> Answered[CallAnswer]:
    """Record the call (201), or answer a retry of it from storage.

    404 for an unknown escalation; 422 at ``called_at`` for a call stamped before the escalation
    was raised or after our clock (beyond ``CALL_CLOCK_SLACK``). A call on a closed escalation
    is recorded (it was made), but moves the ladder no more.
    """
    key = call_key(escalation_id, request.called_at, request.phone)

    async def work(conn: Connection) -> Answered[CallAnswer]:
        async def first_post() -> CallAnswer:
            return await _first_post(conn, runtime, escalation_id, key, request)

        return await once(conn, CALLS, key, request, first_post)

    return await in_transaction(runtime, work)


async def _first_post(
    conn: Connection, runtime: Runtime, escalation_id: UUID, key: str, request: CallRequest
) -> CallAnswer:
    work_order_id = await escalation_order(conn, escalation_id)
    if work_order_id is None:
        raise NotFound(f"no escalation {escalation_id}")
    # Timers before the escalation, as every writer to the ladder does (no deadlocks).
    await lock_pending_timers(conn, work_order_id)
    raised = await lock_escalation(conn, escalation_id)
    assert raised is not None  # escalations are never deleted
    now = utc_now()
    check_call_stamp(request.called_at, raised.raised_at, now)
    payload = EscalationCallPayload(
        escalation_id=escalation_id,
        call_id=call_id(key),
        phone=request.phone,
        reached=request.reached,
        note=request.note,
    )
    event = EscalationCallRecorded(
        correlation_id=raised.correlation_id,
        causation_id=raised.raised_event_id,
        work_order_id=raised.work_order_id,
        occurred_at=request.called_at,
        recorded_at=now,
        source=_source(raised.payload.notify, raised.payload.repair_center_id),
        payload=payload,
    )
    await record_call(conn, raised, event, runtime.settings.topic_prefix)
    level_2_due_at = None
    if raised.closed_at is None:
        # Brought forward to the call, but never later than now: a call posted late still
        # makes level 2 due at once.
        earlier = timer_after_call(
            raised.payload, raised.work_order_id, payload, min(request.called_at, now)
        )
        if earlier is not None:
            level_2_due_at = await bring_forward(conn, earlier)
    return CallAnswer(
        escalation_id=escalation_id,
        call_id=payload.call_id,
        event_id=event.event_id,
        called_at=event.occurred_at,
        phone=payload.phone,
        reached=payload.reached,
        recorded_at=now,
        level_2_due_at=level_2_due_at,
    )
