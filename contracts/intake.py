"""Events the 95598 customer service center produces: the call ended (A), the order issued (B),
the customer called back (the order closed)."""

from typing import Annotated, Literal

from pydantic import Field

from contracts.envelope import Contract, Identifier, Phone, Position, Text, WorkOrderEvent


class Caller(Contract):
    name: Text
    phone: Phone


class Fault(Contract):
    category: Identifier = Field(
        description="e.g. 'outage', 'low_voltage', 'service_drop', 'meter'."
    )
    description: Text
    voltage_kv: Annotated[float, Field(gt=0, le=1000)] | None = None


class CallEndedPayload(Contract):
    call_id: Identifier
    caller: Caller
    address: Text
    location: Position | None = None
    fault: Fault
    agent_id: Identifier
    district: Identifier | None = Field(default=None, description="For routing the order.")


class CallEnded(WorkOrderEvent):
    """Point A: the customer put the phone down; the 45 minutes start. A work order is opened."""

    event_type: Literal["CallEnded"] = "CallEnded"
    schema_version: Literal[1] = 1
    payload: CallEndedPayload


class WorkOrderIssuedPayload(Contract):
    duty_chief_id: Identifier
    repair_center_id: Identifier
    department: Text | None = Field(default=None, description="Whose business the fault is.")
    trade: Identifier | None = None
    routing_rule_id: Identifier | None = Field(
        default=None, description="The routing rule that chose the repair center, if one did."
    )


class WorkOrderIssued(WorkOrderEvent):
    """Point B: the duty chief issued the work order to a repair center."""

    event_type: Literal["WorkOrderIssued"] = "WorkOrderIssued"
    schema_version: Literal[1] = 1
    payload: WorkOrderIssuedPayload


class WorkOrderClosedPayload(Contract):
    satisfied: bool
    comment: Text | None = None
    agent_id: Identifier | None = None


class WorkOrderClosed(WorkOrderEvent):
    """The 95598 center called the customer back (``occurred_at``) and closed the order."""

    event_type: Literal["WorkOrderClosed"] = "WorkOrderClosed"
    schema_version: Literal[1] = 1
    payload: WorkOrderClosedPayload
