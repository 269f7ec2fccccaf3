"""Events a repair center produces: the order arrived (C), the order was dispatched (D)."""

from typing import Literal

from pydantic import Field

from contracts.envelope import Contract, Identifier, WorkOrderEvent


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
