"""Reads of what the timeline service consumed: an order's events, incidents, the raw history."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from contracts import NetworkIncidentPayload, NetworkIncidentRecorded, WorkOrderEvent, parse_event
from contracts.registry import WorkOrderEventT
from services.common.db import Connection


async def order_events(conn: Connection, work_order_id: UUID) -> list[WorkOrderEventT]:
    rows = await conn.fetch(
        # One order, whatever the physical order of the rows: the rebuild sees the same input.
        "SELECT body::text FROM received_events WHERE work_order_id = $1"
        " ORDER BY recorded_at, event_id",
        work_order_id,
    )
    events = [parse_event(row[0]) for row in rows]
    return [event for event in events if isinstance(event, WorkOrderEvent)]


INCIDENTS = "event_type = 'NetworkIncidentRecorded' AND work_order_id IS NULL"
"""Which received events are network incidents, spelled as the partial index
``received_events_incidents`` is, so that the index answers (a condition without
``work_order_id IS NULL`` scans every event ever received, on every request)."""

INCIDENTS_AS_OF = f"""
SELECT DISTINCT ON (body->'payload'->>'incident_id') body::text
FROM received_events WHERE {INCIDENTS} AND recorded_at <= $1
ORDER BY body->'payload'->>'incident_id', recorded_at DESC, event_id DESC
"""


async def incidents_as_of(conn: Connection, as_of: datetime) -> list[NetworkIncidentPayload]:
    """Each incident as last recorded by ``as_of`` (an incident is re-posted when it ends)."""
    rows = await conn.fetch(INCIDENTS_AS_OF, as_of)
    return [NetworkIncidentRecorded.from_json(row[0]).payload for row in rows]


class HistoryEntry(BaseModel):
    """One event as the timeline service consumed it: both clocks, and where it sat in Kafka."""

    event_id: UUID
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    received_at: datetime
    topic: str
    kafka_partition: int
    kafka_offset: int
    body: dict[str, Any]


async def history(conn: Connection, work_order_id: UUID) -> list[HistoryEntry]:
    """Every event of the order, by the source's clock."""
    rows = await conn.fetch(
        """
        SELECT event_id, event_type, occurred_at, recorded_at, received_at,
               topic, kafka_partition, kafka_offset, body
        FROM received_events WHERE work_order_id = $1
        ORDER BY occurred_at, recorded_at, event_id
        """,
        work_order_id,
    )
    return [HistoryEntry.model_validate(dict(row)) for row in rows]
