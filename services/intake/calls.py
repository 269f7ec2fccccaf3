"""Opening a work order from a call, once per call id."""

from contracts import CallEnded, CallEndedPayload
from domain.errors import ImpossibleStep
from domain.orders import Outcome, open_work_order
from services.common.clock import utc_now
from services.common.event_store import append, work_order_stream
from services.common.runtime import Runtime
from services.intake.api_models import CallRequest

SOURCE = "phone-system"


async def record_call(runtime: Runtime, request: CallRequest) -> Outcome[CallEnded]:
    """Point A. The same call posted again answers the work order it opened the first time."""
    payload = CallEndedPayload.model_validate(request.model_dump(exclude={"ended_at"}))
    event = open_work_order(payload, request.ended_at, utc_now(), SOURCE)
    async with runtime.pool.acquire() as conn, conn.transaction():
        # A concurrent post of the same call waits here on the primary key, then sees this row.
        claimed = await conn.fetchval(
            """
            INSERT INTO calls (call_id, work_order_id, event_id, request) VALUES ($1, $2, $3, $4)
            ON CONFLICT (call_id) DO NOTHING RETURNING true
            """,
            request.call_id,
            event.work_order_id,
            event.event_id,
            request.model_dump(mode="json"),
        )
        if claimed:
            await append(
                conn,
                work_order_stream(event.work_order_id),
                0,
                [event],
                runtime.settings.topic_prefix,
            )
            return Outcome(event, is_new=True)
        row = await conn.fetchrow(
            """
            SELECT c.request, e.body::text AS event FROM calls c JOIN events e USING (event_id)
            WHERE c.call_id = $1
            """,
            request.call_id,
        )
    assert row is not None
    if CallRequest.model_validate(row["request"]) != request:
        raise ImpossibleStep(
            f"call {request.call_id!r} already opened a work order with other details: "
            f"{row['request']}"
        )
    return Outcome(CallEnded.model_validate_json(row["event"]), is_new=False)
