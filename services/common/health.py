"""Liveness and readiness: is the process serving, and which of its parts is unwell."""

import asyncio
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.client import AIOKafkaClient
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from yoyo import read_migrations
from yoyo.migrations import default_migration_table

from domain.access import Ability
from services.common import metrics
from services.common.auth import allow
from services.common.db import COMMON_MIGRATIONS, Connection
from services.common.deps import RuntimeDep
from services.common.failures import describe
from services.common.settings import ServiceSettings
from services.common.supervision import TaskState

router = APIRouter(tags=["operations"])

_PROBE_TIMEOUT_S = 2.0
OUTBOX_STALE_S = 10.0
"""An unpublished event older than this means Kafka (or the relay) is not keeping up."""
KAFKA_PROBE_TTL_S = 2.0
"""A Kafka probe's answer is reused this long: probes every half second cost one connection."""
YOYO_TABLE: str = default_migration_table
"""Where yoyo (``db.migrate``) records each migration it applied."""
_kafka_seen: tuple[float, dict[str, Any]] | None = None


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Alive: 200 while the process serves. Its background tasks are supervised (an outage is
    retried, a bug ends the process), so an outage of PostgreSQL or Kafka is a matter for
    `/readyz`, not a reason to restart the process."""
    failed = [name for name, h in runtime.health.items() if h.state is TaskState.FAILED]
    body = {"status": "failing" if failed else "ok", "failed_tasks": failed}
    return JSONResponse(body, status_code=503 if failed else 200)


@lru_cache(maxsize=8)
def expected_migrations(folders: tuple[Path, ...]) -> frozenset[str]:
    """The ids of every migration in ``folders`` (read once: they do not change while running)."""
    return frozenset(m.id for m in read_migrations(*(str(f) for f in folders)))


async def _migrations(conn: Connection, folders: tuple[Path, ...]) -> dict[str, Any]:
    expected = expected_migrations((COMMON_MIGRATIONS, *folders))
    try:
        rows = await conn.fetch(f"SELECT migration_id FROM {YOYO_TABLE}")
    except asyncpg.UndefinedTableError:  # yoyo never ran here
        rows = []
    applied = {r["migration_id"] for r in rows}
    pending = sorted(expected - applied)
    return {
        "state": "pending" if pending else "ok",
        "expected": len(expected),
        "applied": len(expected & applied),
        "pending": pending,
    }


async def kafka_probe(settings: ServiceSettings) -> dict[str, Any]:
    """Whether a broker answers a metadata request within the probe's timeout (cached for
    ``KAFKA_PROBE_TTL_S``): the consumer and the relay keep waiting quietly while Kafka is
    away, so their health alone would not say it."""
    global _kafka_seen
    now = time.monotonic()
    if _kafka_seen is not None and now - _kafka_seen[0] < KAFKA_PROBE_TTL_S:
        return _kafka_seen[1]
    client = AIOKafkaClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=int(_PROBE_TIMEOUT_S * 1000),
    )
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            await client.bootstrap()
        answer: dict[str, Any] = {"state": "ok", "brokers": len(client.cluster.brokers())}
    except Exception as err:  # whatever failed is exactly what the probe reports
        answer = {"state": "unavailable", "error": describe(err)}
    finally:
        await client.close()
    _kafka_seen = (time.monotonic(), answer)
    return answer


@router.get("/readyz", dependencies=[allow(Ability.IDENTIFY)])
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when PostgreSQL answers with every migration applied, Kafka answers, every
    background task is well and the outbox drains; 503 otherwise. The body says which part is
    unwell (``unwell``), and the outbox's backlog and the age of its oldest unpublished event."""
    database: dict[str, Any] = {"state": "ok"}
    outbox: dict[str, Any] | None = None
    migrations: dict[str, Any] = {"state": "unknown"}

    async def from_database() -> None:
        nonlocal database, outbox, migrations
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S), runtime.pool.acquire() as conn:
                row = await conn.fetchrow(
                    """
                    SELECT count(*) AS backlog,
                           extract(epoch FROM now() - min(e.recorded_at))::float8 AS oldest_age_s
                    FROM outbox o JOIN events e USING (event_id)
                    WHERE o.published_at IS NULL
                    """
                )
                assert row is not None
                outbox = {"backlog": row["backlog"], "oldest_age_s": row["oldest_age_s"]}
                migrations = await _migrations(conn, runtime.migrations)
        except Exception as err:  # whatever failed is exactly what the probe reports
            database = {"state": "unavailable", "error": describe(err)}

    _, kafka = await asyncio.gather(from_database(), kafka_probe(runtime.settings))
    tasks = {name: h.as_json() for name, h in runtime.health.items()}
    unwell = [] if database["state"] == "ok" else ["database"]
    if database["state"] == "ok" and migrations["state"] != "ok":
        unwell.append("migrations")
    if kafka["state"] != "ok":
        unwell.append("kafka")
    unwell += [name for name, h in runtime.health.items() if h.state is not TaskState.OK]
    if outbox is not None and (outbox["oldest_age_s"] or 0.0) > OUTBOX_STALE_S:
        unwell.append("outbox")
    body = {
        "status": "ready" if not unwell else "unready",
        "unwell": unwell,
        "database": database,
        "tasks": tasks,
        "outbox": outbox,
        "kafka": kafka,
        "migrations": migrations,
    }
    return JSONResponse(body, status_code=503 if unwell else 200)


@router.get("/metrics", dependencies=[allow(Ability.READ_METRICS)], include_in_schema=False)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition (monitoring and admin tokens): the counters this process
    kept, and what its tables say now (read within ``metrics.SCRAPE_TIMEOUT_S``)."""
    return Response(await metrics.scrape(runtime.pool), media_type=metrics.CONTENT_TYPE)
