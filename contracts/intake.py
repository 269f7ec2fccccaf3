"""Events the 95598 customer service center produces: the call has ended (A), the order is issued (B)."""

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


class CallEnded(WorkOrderEvent):
    """Point A: the customer put the phone down; the 45 minutes start. A work order is opened."""

    event_type: Literal["CallEnded"] = "CallEnded"
    schema_version: Literal[1] = 1
    payload: CallEndedPayload


class WorkOrderIssuedPayload(Contract):
    duty_chief_id: Identifier
    repair_center_id: Identifier


class WorkOrderIssued(WorkOrderEvent):
    """Point B: the duty chief issued the work order to a repair center."""

    event_type: Literal["WorkOrderIssued"] = "WorkOrderIssued"
    schema_version: Literal[1] = 1
    payload: WorkOrderIssuedPayload
