"""Request and answer bodies of the intake API (the phone system's words)."""

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from contracts import CallEndedPayload, Contract, WorkOrderClosedPayload
from contracts.envelope import Identifier, Text
from contracts.reference import RoutingRuleDefinedPayload
from services.common.edge import EdgeId


class CallRequest(CallEndedPayload):
    """A call has ended (point A)."""

    call_id: EdgeId = Field(description="The phone system's id of the call; a retry repeats it.")
    ended_at: AwareDatetime = Field(description="When the customer put the phone down (A).")


class IssueRequest(Contract):
    """The duty chief issues the order (point B), to a repair center or to the routing rules."""

    issued_at: AwareDatetime
    duty_chief_id: EdgeId
    repair_center_id: EdgeId | None = Field(
        default=None,
        description="The duty chief's choice. Absent: the routing rules intake knows choose the "
        "repair center, department and trade from the call's fault and district.",
    )
    department: Text | None = Field(
        default=None, description="Whose business the fault is; only with a repair center."
    )
    trade: Identifier | None = Field(default=None, description="Only with a repair center.")


class CallbackRequest(WorkOrderClosedPayload):
    """The 95598 center called the customer back; the order is closed."""

    called_back_at: AwareDatetime = Field(description="When the callback was made.")


class WorkOrderView(Contract):
    work_order_id: UUID
    call_id: str
    ended_at: datetime
    issued_at: datetime | None
    repair_center_id: str | None
    department: str | None = None
    trade: str | None = None
    routing_rule_id: str | None = Field(
        default=None, description="The routing rule that chose the repair center, if one did."
    )
    closed_at: datetime | None = Field(
        default=None, description="When the customer was called back."
    )
    satisfied: bool | None = Field(default=None, description="What the customer said then.")


class RoutingRules(BaseModel):
    """The routing rules as intake knows them: each rule's latest definition, by rule id."""

    items: list[RoutingRuleDefinedPayload]
