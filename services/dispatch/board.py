"""The order board in PostgreSQL: one row per order, rewritten from its events on each new one.

Rows are written only by ``refresh`` (and ``vehicle_recalls`` by ``note_recall``), inside the
transaction that records the order's event, so the board is never ahead of or behind the events.
"""

from collections.abc import Iterable
from uuid import UUID

from pydantic import TypeAdapter

from contracts import WorkOrderRecalled
from domain.board import BoardEntry, OrderStatus, board_entry
from domain.fleet import VehicleState
from domain.orders import OrderState
from services.common.db import Connection

_ENTRY: TypeAdapter[BoardEntry] = TypeAdapter(BoardEntry)
_RECALL: TypeAdapter[WorkOrderRecalled] = TypeAdapter(WorkOrderRecalled)


async def refresh(conn: Connection, state: OrderState) -> BoardEntry:
    """The order's row, as its events now say."""
    entry = board_entry(state)
    await conn.execute(
        """
        INSERT INTO order_board (work_order_id, repair_center_id, status, is_open, vehicle_id,
                                 oldest_at, entry)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (work_order_id) DO UPDATE SET
            repair_center_id = EXCLUDED.repair_center_id, status = EXCLUDED.status,
            is_open = EXCLUDED.is_open, vehicle_id = EXCLUDED.vehicle_id,
            oldest_at = EXCLUDED.oldest_at, entry = EXCLUDED.entry, updated_at = now()
        """,
        entry.work_order_id,
        entry.repair_center_id,
        entry.status.value,
        entry.is_open,
        entry.vehicle_id,
        min(entry.points.values(), default=None),
        _ENTRY.dump_python(entry, mode="json"),
    )
    return entry


async def note_recall(conn: Connection, recall: WorkOrderRecalled) -> None:
    await conn.execute(
        """
        INSERT INTO vehicle_recalls (event_id, vehicle_id, work_order_id, recalled_at, recall)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING
        """,
        recall.event_id,
        recall.payload.vehicle_id,
        recall.work_order_id,
        recall.occurred_at,
        recall.model_dump(mode="json"),
    )


async def inbox(
    conn: Connection, repair_center_id: str, statuses: Iterable[OrderStatus]
) -> list[BoardEntry]:
    """The repair center's open orders in these statuses, oldest first."""
    rows = await conn.fetch(
        """
        SELECT entry FROM order_board
        WHERE repair_center_id = $1 AND is_open AND status = ANY($2::text[])
        ORDER BY oldest_at, work_order_id
        """,
        repair_center_id,
        [s.value for s in statuses],
    )
    return [_ENTRY.validate_python(row["entry"]) for row in rows]


async def queue(conn: Connection, vehicle_id: str) -> list[BoardEntry]:
    """The vehicle's open orders, in the order they were dispatched to it."""
    rows = await conn.fetch(
        "SELECT entry FROM order_board WHERE vehicle_id = $1 AND is_open", vehicle_id
    )
    entries = [_ENTRY.validate_python(row["entry"]) for row in rows]
    return sorted(entries, key=lambda e: (min(e.points.values()), str(e.work_order_id)))


async def stages(
    conn: Connection, vehicle_ids: list[str], leaving_out: UUID | None = None
) -> dict[str, list[VehicleState]]:
    """What each vehicle's open orders ask of it (``domain.fleet.vehicle_state`` folds them)."""
    rows = await conn.fetch(
        """
        SELECT vehicle_id, entry->>'vehicle_stage' AS stage FROM order_board
        WHERE vehicle_id = ANY($1::text[]) AND is_open
          AND ($2::uuid IS NULL OR work_order_id <> $2)
        """,
        vehicle_ids,
        leaving_out,
    )
    out: dict[str, list[VehicleState]] = {v: [] for v in vehicle_ids}
    for row in rows:
        if row["stage"] is not None:
            out[row["vehicle_id"]].append(VehicleState(row["stage"]))
    return out


async def recalls(conn: Connection, vehicle_id: str, limit: int = 50) -> list[WorkOrderRecalled]:
    """The latest recalls of orders from this vehicle, newest first."""
    rows = await conn.fetch(
        """
        SELECT recall FROM vehicle_recalls WHERE vehicle_id = $1
        ORDER BY recalled_at DESC, event_id LIMIT $2
        """,
        vehicle_id,
        limit,
    )
    return [_RECALL.validate_python(row["recall"]) for row in rows]


async def entry_of(conn: Connection, work_order_id: UUID) -> BoardEntry | None:
    body = await conn.fetchval(
        "SELECT entry FROM order_board WHERE work_order_id = $1", work_order_id
    )
    return None if body is None else _ENTRY.validate_python(body)
