"""The communications department records network incidents; they decide who answers for BC and DE."""

from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Response

from contracts import NetworkIncidentPayload, NetworkIncidentRecorded
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.event_store import append, stream_version
from services.common.http import RuntimeDep

router = APIRouter(prefix="/v1", tags=["network"])
SOURCE = "communications-department"


@router.post("/network-incidents", status_code=201)
async def record_incident(
    incident: NetworkIncidentPayload, runtime: RuntimeDep, response: Response
) -> NetworkIncidentRecorded:
    """Record an incident on a link, or update it (post it again with `ended_at` when it ends).

    The same body posted again records nothing new and answers 200.
    """
    stream = f"network-incident-{incident.incident_id}"

    async def work(conn: Connection) -> tuple[NetworkIncidentRecorded, bool]:
        latest = await conn.fetchval(
            "SELECT body::text FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1",
            stream,
        )
        if latest is not None:
            previous = NetworkIncidentRecorded.from_json(latest)
            if previous.payload == incident:
                return previous, False
        event = NetworkIncidentRecorded(
            correlation_id=uuid5(NAMESPACE_URL, f"repair-dispatch:{stream}"),
            occurred_at=incident.ended_at or incident.started_at,
            recorded_at=utc_now(),
            source=SOURCE,
            payload=incident,
        )
        version = await stream_version(conn, stream)
        await append(conn, stream, version, [event], runtime.settings.topic_prefix)
        return event, True

    event, is_new = await in_transaction(runtime, work)
    response.status_code = 201 if is_new else 200
    return event
