"""Events a repair center produces: the order arrived (C), was dispatched (D), recalled, or blocked."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.envelope import Contract, Identifier, Text, WorkOrderEvent


class WorkOrderReceivedPayload(Contract):
    repair_center_id: Identifier


class WorkOrderReceived(WorkOrderEvent):
    """Point C: the work order arrived at (was taken in by) the repair center."""

    event_type: Literal["WorkOrderReceived"] = "WorkOrderReceived"
    schema_version: Literal[1] = 1
    payload: WorkOrderReceivedPayload


class WorkOrderDispatchedPayload(Contract):
    repair_center_id: Identifier
    crew_id: Identifier
    vehicle_id: Identifier
    dispatcher_id: Identifier
    crew_co_located: bool = Field(
        description="The crew shares the repair center's office: DE's limit is 2 min, else 4 min."
    )


class WorkOrderDispatched(WorkOrderEvent):
    """Point D: the repair center sent the order to a crew and its vehicle's GPS unit."""

    event_type: Literal["WorkOrderDispatched"] = "WorkOrderDispatched"
    schema_version: Literal[1] = 1
    payload: WorkOrderDispatchedPayload


class WorkOrderRecalledPayload(Contract):
    dispatch_event_id: UUID = Field(description="The dispatch (attempt) recalled.")
    repair_center_id: Identifier
    crew_id: Identifier
    vehicle_id: Identifier
    reason: Text
    requested_by: Identifier = Field(
        description="A dispatcher's id, or 'gps-unit:<vehicle>' when the unit asked (rule 4)."
    )
    report_id: Identifier | None = Field(default=None, description="The unit's report, if so.")


class WorkOrderRecalled(WorkOrderEvent):
    """Rule 4: an attempt is withdrawn from its vehicle; the order may be dispatched again."""

    event_type: Literal["WorkOrderRecalled"] = "WorkOrderRecalled"
    schema_version: Literal[1] = 1
    payload: WorkOrderRecalledPayload


class DispatchBlockedPayload(Contract):
    repair_center_id: Identifier
    department: Text | None
    trade: Identifier | None
    reason: Text


class DispatchBlocked(WorkOrderEvent):
    """Rule 5: the order waits for dispatch and no suitable vehicle stands by."""

    event_type: Literal["DispatchBlocked"] = "DispatchBlocked"
    schema_version: Literal[1] = 1
    payload: DispatchBlockedPayload
