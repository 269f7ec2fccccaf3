"""The escalation ladder (communication rules 1 and 2): raised, phoned, closed.

An escalation is raised when the order has waited too long for the next hand-over: the repair
center has not taken it in 4 minutes after issue (``not_received``, the 95598 center phones the
repair center), or the crew has not taken it 4 minutes after dispatch (``not_taken``, the repair
center phones the crew's on-duty person, then at level 2 the crew's two leaders). Each phone call
is recorded, and the awaited event closes the escalation. Keyed by work order, on a topic of
their own; they are not steps of the order, so they are not ``WorkOrderEvent``s.
"""

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract, Envelope, Identifier, Phone, Text
from contracts.topics import ESCALATIONS


class EscalationRule(StrEnum):
    NOT_RECEIVED = "not_received"
    """Rule 1: issued (B), not taken in by the repair center (C)."""
    NOT_TAKEN = "not_taken"
    """Rule 2: dispatched (D), not taken by the crew (E or F)."""


class Notify(StrEnum):
    """Who is told, and phones."""

    CUSTOMER_SERVICE_CENTER = "customer_service_center"
    REPAIR_CENTER = "repair_center"


class Contact(Contract):
    name: Text
    phone: Phone
    role: Literal["repair_center", "crew_on_duty", "leader"]


class EscalationEvent(Envelope):
    work_order_id: UUID
    topic: ClassVar[str] = ESCALATIONS.name

    @property
    def partition_key(self) -> str:
        return str(self.work_order_id)


class EscalationRaisedPayload(Contract):
    escalation_id: UUID
    rule: EscalationRule
    level: Literal[1, 2]
    notify: Notify
    repair_center_id: Identifier
    crew_id: Identifier | None = None
    contacts: Annotated[list[Contact], Field(min_length=1, max_length=2)]
    due_at: AwareDatetime = Field(description="When the wait ran out, from the events' own times.")
    waiting_since_event_id: UUID = Field(description="The issue (B) or dispatch (D) waited on.")


class EscalationRaised(EscalationEvent):
    event_type: Literal["EscalationRaised"] = "EscalationRaised"
    schema_version: Literal[1] = 1
    payload: EscalationRaisedPayload


class EscalationCallPayload(Contract):
    escalation_id: UUID
    call_id: Identifier = Field(description="The caller's id for the attempt; a retry repeats it.")
    phone: Phone
    reached: bool
    note: Text | None = None


class EscalationCallRecorded(EscalationEvent):
    """Someone phoned a contact of an escalation (``occurred_at``: when they called)."""

    event_type: Literal["EscalationCallRecorded"] = "EscalationCallRecorded"
    schema_version: Literal[1] = 1
    payload: EscalationCallPayload


class EscalationClosedPayload(Contract):
    escalation_id: UUID
    closed_by_event_id: UUID
    reason: Text


class EscalationClosed(EscalationEvent):
    """The awaited hand-over happened (``occurred_at``: when it happened, by its source)."""

    event_type: Literal["EscalationClosed"] = "EscalationClosed"
    schema_version: Literal[1] = 1
    payload: EscalationClosedPayload
