"""Opening a work order from a call, once per call id."""

from datetime import timedelta

from pydantic import TypeAdapter

from contracts import CallEndedPayload
from domain.orders import open_work_order
from services.common.answers import Recorded
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.event_store import append, work_order_stream
from services.common.idempotency import Answered, Scope, once
from services.common.runtime import Runtime
from services.intake.api_models import CallRequest

SOURCE = "phone-system"

CALLS = Scope(
    name="call",
    noun="call",
    request=TypeAdapter(CallRequest),
    answer=TypeAdapter(Recorded),
    personal=True,
)
"""Keyed by the phone system's call id. The call carries the caller's name and phone: a refusal
names the fields that differ and never echoes the first call to whoever posts the id."""


async def record_call(runtime: Runtime, request: CallRequest) -> Answered[Recorded]:
    """Point A. The same call posted again answers the work order it opened the first time."""
    settings = runtime.settings
    tolerance = timedelta(seconds=settings.live_stamp_tolerance_s)

    async def work(conn: Connection) -> Answered[Recorded]:
        async def open_order() -> Recorded:
            payload = CallEndedPayload.model_validate(request.model_dump(exclude={"ended_at"}))
            event = open_work_order(
                payload, request.ended_at, utc_now(), SOURCE, tolerance=tolerance
            )
            stream = work_order_stream(event.work_order_id)
            await append(conn, stream, 0, [event], settings.topic_prefix)
            return Recorded.of(event)

        return await once(conn, CALLS, request.call_id, request, open_order)

    return await in_transaction(runtime, work)
