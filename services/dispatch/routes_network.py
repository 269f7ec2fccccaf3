"""The communications department records network incidents; they decide who answers for BC and DE.

An incident moves every late BC or DE in its window onto the network, so it is guarded: only
an admin or a monitoring token records one, it names its link and repair center, and it may not
start further back than the back-dating window (``INCIDENT_BACKDATE_WINDOW_S``) unless an admin
gives the reason, which is kept on the event with the token that recorded it.
"""

from datetime import timedelta
from typing import Annotated
from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Depends, Response

from contracts import NetworkIncidentPayload, NetworkIncidentRecorded
from domain.access import Ability, Principal, require
from domain.errors import InvalidReference
from services.common.auth import Allow
from services.common.clock import utc_now
from services.common.commands import in_transaction
from services.common.db import Connection
from services.common.event_store import append, stream_version
from services.common.http import RuntimeDep
from services.dispatch.api_models import IncidentRequest

router = APIRouter(prefix="/v1", tags=["network"])
SOURCE = "communications-department"
Recorder = Annotated[Principal, Depends(Allow(Ability.RECORD_INCIDENTS))]


def _same(a: NetworkIncidentPayload, b: NetworkIncidentPayload) -> bool:
    """The same incident as recorded, whoever posts it again."""
    return a.model_copy(update={"recorded_by": None}) == b.model_copy(update={"recorded_by": None})


@router.post(
    "/network-incidents",
    status_code=201,
    responses={200: {"description": "The same incident again: nothing new recorded."}},
)
async def record_incident(
    request: IncidentRequest, runtime: RuntimeDep, response: Response, caller: Recorder
) -> NetworkIncidentRecorded:
    """Record an incident on a link, or update it (post it again with `ended_at` when it ends).

    The same body posted again records nothing new and answers 200. An admin or monitoring
    token only (403). A `started_at` further back than the back-dating window is 403 for a
    monitoring token, and 422 at `reason` for an admin who gives none; an update that keeps
    the `started_at` already recorded (the incident's end, posted late) is not back-dating.
    A stamp ahead of our clock by more than the future-stamp tolerance is 422.
    """
    settings = runtime.settings
    now = utc_now()
    ahead = timedelta(seconds=settings.future_stamp_tolerance_s)
    for field in ("started_at", "ended_at"):
        stamp = getattr(request, field)
        if stamp is not None and stamp - now > ahead:
            raise InvalidReference(field, f"{field} is {stamp - now} after our clock")
    payload = NetworkIncidentPayload(
        **request.model_dump(exclude={"reason"}),
        reason=request.reason,
        recorded_by=caller.name,
    )
    stream = f"network-incident-{request.incident_id}"
    window = timedelta(seconds=settings.incident_backdate_window_s)

    async def work(conn: Connection) -> tuple[NetworkIncidentRecorded, bool]:
        latest = await conn.fetchval(
            "SELECT body::text FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1",
            stream,
        )
        previous = None if latest is None else NetworkIncidentRecorded.from_json(latest)
        if previous is not None and _same(previous.payload, payload):
            return previous, False
        kept_start = previous is not None and previous.payload.started_at == payload.started_at
        if now - payload.started_at > window and not kept_start:
            require(
                caller,
                Ability.BACKDATE_INCIDENTS,
                what=f"record an incident that started more than {window} ago",
            )
            if payload.reason is None:
                raise InvalidReference(
                    "reason",
                    f"started_at is {now - payload.started_at} ago, beyond the back-dating "
                    f"window of {window}: say why it is recorded only now",
                )
        event = NetworkIncidentRecorded(
            correlation_id=uuid5(NAMESPACE_URL, f"repair-dispatch:{stream}"),
            occurred_at=payload.ended_at or payload.started_at,
            recorded_at=now,
            source=SOURCE,
            payload=payload,
        )
        version = await stream_version(conn, stream)
        await append(conn, stream, version, [event], settings.topic_prefix)
        return event, True

    event, is_new = await in_transaction(runtime, work)
    response.status_code = 201 if is_new else 200
    return event
