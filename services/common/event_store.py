"""Append-only event storage with a transactional outbox, inside the caller's transaction.

A service answers 2xx only after the transaction that holds ``append`` commits, so an
acknowledged event is durable, and its outbox row guarantees it reaches Kafka (at least once).
"""

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from contracts import Envelope, WorkOrderEvent, WorkOrderEventT, parse_event
from services.common.db import Connection
from services.common.failures import Contention

OUTBOX_CHANNEL = "outbox"


class ConcurrentWrite(Contention):
    """Another request appended to the same stream first; re-read and decide again."""


def work_order_stream(work_order_id: UUID) -> str:
    return f"work-order-{work_order_id}"


async def stream_version(conn: Connection, stream_id: str) -> int:
    version: int = await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1", stream_id
    )
    return version


async def append(
    conn: Connection,
    stream_id: str,
    expected_version: int,
    events: Sequence[Envelope],
    topic_prefix: str,
) -> None:
    """Append after ``expected_version``; raises ``ConcurrentWrite`` if someone else got there."""
    try:
        for offset, event in enumerate(events, start=1):
            await conn.execute(
                """
                INSERT INTO events (stream_id, version, event_id, event_type, schema_version,
                                    work_order_id, occurred_at, recorded_at, body)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                stream_id,
                expected_version + offset,
                event.event_id,
                event.event_type,
                event.schema_version,
                getattr(event, "work_order_id", None),
                event.occurred_at,
                event.recorded_at,
                event.model_dump(mode="json"),
            )
            await conn.execute(
                "INSERT INTO outbox (event_id, topic, key) VALUES ($1, $2, $3)",
                event.event_id,
                f"{topic_prefix}{event.topic}",
                event.partition_key,
            )
    except asyncpg.UniqueViolationError as err:
        if lost_version_race(err):
            raise ConcurrentWrite(stream_id) from err
        raise
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)


def lost_version_race(err: asyncpg.UniqueViolationError) -> bool:
    """Whether another writer took the stream's next version first (decide again)."""
    return err.constraint_name == "events_stream_id_version_key"


async def work_order_events(conn: Connection, work_order_id: UUID) -> list[WorkOrderEventT]:
    """Every event this service holds of one order: those it wrote and those it consumed.

    Of its own, the order's stream only (every work-order event is appended there), read by
    ``(stream_id, version)``: the position reports and unit faults that name the order (one every
    few seconds while a crew carries it) are kept under the vehicle's stream and are neither
    read nor parsed here, so a step costs the same after 2,000 of them as after none (issue 9).
    """
    rows = await conn.fetch(
        """
        (SELECT body::text FROM events WHERE stream_id = $2 ORDER BY version)
        UNION ALL
        SELECT body::text FROM received_events WHERE work_order_id = $1
        """,
        work_order_id,
        work_order_stream(work_order_id),
    )
    parsed = [parse_event(row[0]) for row in rows]
    return [event for event in parsed if isinstance(event, WorkOrderEvent)]
