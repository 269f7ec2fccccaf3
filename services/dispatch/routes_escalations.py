"""The escalation ladder as the phoning person sees it: open escalations, calls recorded."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from contracts.access import Role
from contracts.escalations import Contact, EscalationRaisedPayload, EscalationRule, Notify
from domain.access import Ability, Principal, require_center
from domain.errors import NotFound
from domain.escalations import names_phone
from services.common.answers import answered
from services.common.auth import Allow
from services.common.http import RuntimeDep
from services.dispatch import escalation_calls
from services.dispatch.escalation_calls import CallAnswer, CallRequest

router = APIRouter(prefix="/v1", tags=["escalations"])
EscalationId = Annotated[UUID, Path(description="The escalation's id, as listed.")]
Reader = Annotated[Principal, Depends(Allow(Ability.READ_DISPATCH))]
Dispatcher = Annotated[Principal, Depends(Allow(Ability.ANSWER_ESCALATIONS))]


class CallView(BaseModel):
    call_id: str
    event_id: UUID
    called_at: datetime
    phone: str
    reached: bool
    note: str | None
    recorded_at: datetime
    named: bool
    """Whether the phone is one the escalation names (a dispatcher may dial another)."""


class EscalationView(BaseModel):
    escalation_id: UUID
    work_order_id: UUID
    rule: EscalationRule
    level: Literal[1, 2]
    notify: Notify
    repair_center_id: str
    crew_id: str | None
    contacts: list[Contact]
    due_at: datetime
    raised_at: datetime
    waiting_since_event_id: UUID
    closed_at: datetime | None
    """When the event that ended the wait happened, by its source's clock; null while open."""
    close_reason: str | None
    closed_by_event_id: UUID | None
    calls: list[CallView]


class Escalations(BaseModel):
    items: list[EscalationView]


@router.get("/escalations", response_model=Escalations)
async def escalations(
    runtime: RuntimeDep,
    caller: Reader,
    open_only: Annotated[
        bool | None,
        Query(alias="open", description="true: open only; false or absent: open and closed."),
    ] = None,
    work_order_id: Annotated[UUID | None, Query(description="Of one order only.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Escalations:
    """The escalations raised, most overdue first (by `due_at`, then id), each with its calls.

    `open=true` lists those still waiting for the hand-over; `open=false` or no `open` lists
    all of them, open and closed, in the same order. A dispatcher sees its repair center's.
    """
    if caller.role is Role.DEVICE:
        require_center(caller, None, "read escalations")
    center = caller.repair_center_id if caller.role is Role.DISPATCHER else None
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            """
            SELECT e.*, coalesce(
                (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.called_at, c.recorded_at, c.call_id)
                 FROM escalation_calls c WHERE c.escalation_id = e.escalation_id),
                '[]'::jsonb) AS calls
            FROM escalations e
            WHERE ($1::boolean IS NOT TRUE OR e.closed_at IS NULL)
              AND ($2::uuid IS NULL OR e.work_order_id = $2)
              AND ($4::text IS NULL OR e.body->>'repair_center_id' = $4)
            ORDER BY e.due_at, e.escalation_id
            LIMIT $3
            """,
            open_only,
            work_order_id,
            limit,
            center,
        )
    return Escalations(items=[_view(row) for row in rows])


def _view(row: Any) -> EscalationView:
    raised = EscalationRaisedPayload.model_validate(row["body"])
    return EscalationView(
        escalation_id=raised.escalation_id,
        work_order_id=row["work_order_id"],
        rule=raised.rule,
        level=raised.level,
        notify=raised.notify,
        repair_center_id=raised.repair_center_id,
        crew_id=raised.crew_id,
        contacts=raised.contacts,
        due_at=raised.due_at,
        raised_at=row["raised_at"],
        waiting_since_event_id=raised.waiting_since_event_id,
        closed_at=row["closed_at"],
        close_reason=row["close_reason"],
        closed_by_event_id=row["closed_by_event_id"],
        calls=[
            CallView(
                call_id=c["call_id"],
                event_id=c["event_id"],
                called_at=c["called_at"],
                phone=c["phone"],
                reached=c["reached"],
                note=c["note"],
                recorded_at=c["recorded_at"],
                named=names_phone(raised, c["phone"]),
            )
            for c in row["calls"]
        ],
    )


@router.post("/escalations/{escalation_id}/calls", status_code=201, response_model=CallAnswer)
async def record_call(
    escalation_id: EscalationId,
    request: CallRequest,
    runtime: RuntimeDep,
    response: Response,
    caller: Dispatcher,
) -> CallAnswer:
    """Someone phoned for the escalation: record the attempt (`EscalationCallRecorded`).

    Keyed by the escalation, `called_at` (the instant) and `phone`: the same body again replays
    (`Idempotent-Replay: true`), another body under the key is 409 with the first under `first`.
    Any well-formed phone is taken (a dispatcher may dial a number the escalation does not
    name; the listing says `named`). 404 for an unknown escalation; 422 at `called_at` for a
    call stamped more than 60 s before the escalation was raised, or after our clock. A level-1
    `not_taken` call with `reached: false` makes level 2 due at once (`level_2_due_at`).
    Only the dispatcher of the escalation's repair center may: 403.
    """
    async with runtime.pool.acquire() as conn:
        center = await conn.fetchval(
            "SELECT body->>'repair_center_id' FROM escalations WHERE escalation_id = $1",
            escalation_id,
        )
    if center is None:
        raise NotFound(f"no escalation {escalation_id}")
    require_center(caller, center, "record a call for an escalation")
    return answered(await escalation_calls.record(runtime, escalation_id, request), response)
