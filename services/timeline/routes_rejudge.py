"""``POST /v1/rejudgements``: re-judge a period under another policy version, beside the live."""

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from contracts.envelope import Identifier, Text
from contracts.findings import FindingsRejudgedPayload
from domain.access import Ability
from domain.policy import PolicyBook
from services.common.answers import answered
from services.common.auth import allow
from services.common.http import RuntimeDep
from services.common.idempotency import Scope, once
from services.timeline.rejudging import rejudge_period

router = APIRouter(
    prefix="/v1/rejudgements", tags=["rejudgements"], dependencies=[allow(Ability.ADMINISTER)]
)


class RejudgementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    policy_version: Identifier
    period_start: Annotated[AwareDatetime, Field(alias="from", description="A at or after.")]
    period_end: Annotated[AwareDatetime, Field(alias="to", description="A before this.")]
    requested_by: Identifier
    reason: Text

    @model_validator(mode="after")
    def _to_after_from(self) -> "RejudgementRequest":
        if self.period_end <= self.period_start:
            raise ValueError("to must be after from")
        return self


REJUDGEMENTS: Scope[RejudgementRequest, FindingsRejudgedPayload] = Scope(
    name="rejudgement",
    noun="re-judgement",
    request=TypeAdapter(RejudgementRequest),
    answer=TypeAdapter(FindingsRejudgedPayload),
)


@router.post("", status_code=201)
async def rejudge(
    body: RejudgementRequest, request: Request, response: Response, runtime: RuntimeDep
) -> FindingsRejudgedPayload:
    """Judge the orders with A in [from, to) under ``policy_version`` at their own stored clocks,
    keep each answer beside the live one, and record ``FindingsRejudged`` with the counts. The
    same request again gets the same answer; another one for the same version and period is 409."""
    book: PolicyBook = request.app.state.policy_book
    policy = book.get(body.policy_version)  # NotFound: 404 naming the known versions
    key = f"{body.policy_version}|{body.period_start.isoformat()}|{body.period_end.isoformat()}"
    async with runtime.pool.acquire() as conn, conn.transaction():

        async def work() -> FindingsRejudgedPayload:
            event = await rejudge_period(
                conn,
                policy,
                body.period_start,
                body.period_end,
                body.requested_by,
                body.reason,
                runtime.settings.topic_prefix,
            )
            return event.payload

        answer = await once(conn, REJUDGEMENTS, key, body, work)
    if answer.replay:
        response.status_code = 200
    return answered(answer, response)
