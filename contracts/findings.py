"""What the timeline finds and tells others: live breaches, and re-judgements under a policy.

Keyed by work order (``SegmentBreached``) or by the re-judgement (``FindingsRejudged``) on
``repair.findings.v1``, so that dispatch and the 95598 center can act on a breach while the
segment still runs.
"""

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, NonNegativeInt, PositiveInt

from contracts.envelope import Contract, Envelope, Identifier, Text
from contracts.topics import FINDINGS

SegmentName = Literal["AB", "BC", "CD", "DE", "EF", "FG", "GH"]
ResponsibleName = Literal[
    "customer_service_center", "network", "repair_center", "crew_receiver", "crew_repair_staff"
]


class SegmentBreachedPayload(Contract):
    segment: SegmentName
    attempt: Annotated[
        int, Field(ge=0, description="The dispatch attempt for DE to GH (1, 2, ...); 0 before D.")
    ]
    responsible: ResponsibleName | None
    limit_s: PositiveInt
    started_at: AwareDatetime
    breached_at: AwareDatetime = Field(description="started_at + limit_s.")
    policy_version: Identifier
    evidence: Text | None = None


class SegmentBreached(Envelope):
    """A running segment passed its limit before its end point arrived (once per order, segment
    and attempt; ``occurred_at`` is ``breached_at``, ``recorded_at`` the recorded clock that saw it)."""

    event_type: Literal["SegmentBreached"] = "SegmentBreached"
    schema_version: Literal[1] = 1
    work_order_id: UUID
    payload: SegmentBreachedPayload
    topic: ClassVar[str] = FINDINGS.name

    @property
    def partition_key(self) -> str:
        return str(self.work_order_id)


class RejudgedCounts(Contract):
    orders: NonNegativeInt
    changed: NonNegativeInt = Field(description="Orders whose answer differs from the live one.")
    breached: NonNegativeInt = Field(description="Orders with a breached segment under the new.")


class FindingsRejudgedPayload(Contract):
    rejudgement_id: UUID
    policy_version: Identifier
    period_start: AwareDatetime = Field(description="Orders by A in [period_start, period_end).")
    period_end: AwareDatetime
    requested_by: Identifier
    reason: Text
    counts: RejudgedCounts


class FindingsRejudged(Envelope):
    """Someone re-judged the orders of a period under another policy version; the results are
    kept beside the live ones, which stay as they were."""

    event_type: Literal["FindingsRejudged"] = "FindingsRejudged"
    schema_version: Literal[1] = 1
    payload: FindingsRejudgedPayload
    topic: ClassVar[str] = FINDINGS.name

    @property
    def partition_key(self) -> str:
        return str(self.payload.rejudgement_id)
