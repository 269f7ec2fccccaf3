"""Live breaches: segments that passed their limit, open while they run, closed at their end."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from domain.access import Ability
from services.common.auth import allow
from services.common.http import RuntimeDep

router = APIRouter(prefix="/v1/breaches", tags=["breaches"], dependencies=[allow(Ability.READ_ALL)])


class Breach(BaseModel):
    """One segment of one order (and dispatch attempt) found past its limit."""

    event_id: UUID
    """The ``SegmentBreached`` event's id (the same live and on replay)."""
    work_order_id: UUID
    segment: str
    attempt: int
    responsible: str | None
    limit_s: int
    started_at: datetime
    breached_at: datetime
    """``started_at + limit_s``."""
    status: Literal["open", "closed"]
    closed_at: datetime | None
    """The recorded clock at which the segment was seen no longer running."""


class Breaches(BaseModel):
    items: list[Breach]


@router.get("")
async def breaches(
    runtime: RuntimeDep,
    open: Annotated[
        bool | None,
        Query(description="true: only open (still running) breaches; false: only closed ones."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Breaches:
    """Breaches by the instant they happened, newest first."""
    status = None if open is None else ("open" if open else "closed")
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            """
            SELECT event_id, work_order_id, segment, attempt, responsible, limit_s, started_at,
                   breached_at, status, closed_at
            FROM breaches WHERE $1::text IS NULL OR status = $1
            ORDER BY breached_at DESC, event_id LIMIT $2
            """,
            status,
            limit,
        )
    return Breaches(items=[Breach.model_validate(dict(row)) for row in rows])
