"""Liveness and readiness: is the process serving, and which of its parts is unwell."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from domain.access import Ability
from services.common.auth import allow
from services.common.deps import RuntimeDep
from services.common.failures import describe
from services.common.supervision import TaskState

router = APIRouter(tags=["operations"])

_PROBE_TIMEOUT_S = 2.0
OUTBOX_STALE_S = 10.0
"""An unpublished event older than this means Kafka (or the relay) is not keeping up."""


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Alive: 200 while the process serves. Its background tasks are supervised (an outage is
    retried, a bug ends the process), so an outage of PostgreSQL or Kafka is a matter for
    `/readyz`, not a reason to restart the process."""
    failed = [name for name, h in runtime.health.items() if h.state is TaskState.FAILED]
    body = {"status": "failing" if failed else "ok", "failed_tasks": failed}
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/readyz", dependencies=[allow(Ability.IDENTIFY)])
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when PostgreSQL answers, every background task is well and the outbox drains (so
    Kafka is reachable); 503 otherwise. The body says which part is unwell, and the outbox's
    backlog and the age of its oldest unpublished event."""
    database: dict[str, Any] = {"state": "ok"}
    outbox: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            row = await runtime.pool.fetchrow(
                """
                SELECT count(*) AS backlog,
                       extract(epoch FROM now() - min(e.recorded_at))::float8 AS oldest_age_s
                FROM outbox o JOIN events e USING (event_id)
                WHERE o.published_at IS NULL
                """
            )
        assert row is not None
        outbox = {"backlog": row["backlog"], "oldest_age_s": row["oldest_age_s"]}
    except Exception as err:  # whatever failed is exactly what the probe reports
        database = {"state": "unavailable", "error": describe(err)}
    tasks = {name: h.as_json() for name, h in runtime.health.items()}
    unwell = [] if database["state"] == "ok" else ["database"]
    unwell += [name for name, h in runtime.health.items() if h.state is not TaskState.OK]
    if outbox is not None and (outbox["oldest_age_s"] or 0.0) > OUTBOX_STALE_S:
        unwell.append("outbox")
    body = {
        "status": "ready" if not unwell else "unready",
        "unwell": unwell,
        "database": database,
        "tasks": tasks,
        "outbox": outbox,
    }
    return JSONResponse(body, status_code=503 if unwell else 200)
