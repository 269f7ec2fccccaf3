"""The escalation ladder of one order, as the timeline consumed it (``services.timeline.ladder``)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from domain.access import Ability
from domain.errors import NotFound
from services.common.auth import allow
from services.common.clock import utc_now
from services.common.http import RuntimeDep
from services.timeline import ladder

router = APIRouter(
    prefix="/v1/work-orders", tags=["timeline"], dependencies=[allow(Ability.READ_ALL)]
)


@router.get("/{work_order_id}/escalations")
async def escalations(
    work_order_id: Annotated[UUID, Path(description="The id intake gave the work order.")],
    runtime: RuntimeDep,
    as_of: Annotated[
        AwareDatetime | None,
        Query(description="The ladder as recorded by this instant (default: now)."),
    ] = None,
) -> ladder.Ladder:
    """The escalation ladder of rules 1 and 2: each rung raised (rule, level, whom to phone,
    when it fell due, when raised), every call recorded for it (the number, the contact it
    names, when, reached or not, the note, who recorded it), and its closure (when, why, by
    which event). Each with both clocks and where it sat in Kafka. An order known to the
    timeline without escalations has an empty ladder; an order it knows nothing of is 404."""
    now = as_of or utc_now()
    async with runtime.pool.acquire() as conn:
        located = await ladder.ladder_events(conn, work_order_id)
        known = bool(located) or bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM received_events WHERE work_order_id = $1)",
                work_order_id,
            )
        )
    if not known:
        raise NotFound(f"no events of work order {work_order_id} have reached the timeline")
    return ladder.fold(work_order_id, located, now)
