"""Event contracts: the single source of truth for what crosses Kafka.

Frozen pydantic models, one module per family; JSON Schema under ``schemas/`` is generated
from them (``make schemas``) and a test fails when the two drift.
"""

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    CrewReportPayload,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import (
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderReceived,
    WorkOrderReceivedPayload,
)
from contracts.envelope import Contract, Envelope, Position, WorkOrderEvent
from contracts.intake import (
    CallEnded,
    CallEndedPayload,
    Caller,
    Fault,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
)
from contracts.network import Link, NetworkIncidentPayload, NetworkIncidentRecorded
from contracts.registry import EVENT_CLASSES, AnyEvent, WorkOrderEventT, parse_event
from contracts.vehicles import (
    DeviceFaultReportedPayload,
    PositionReportedPayload,
    VehicleDeviceFaultReported,
    VehicleEvent,
    VehiclePositionReported,
)

__all__ = [
    "EVENT_CLASSES",
    "AnyEvent",
    "CallEnded",
    "CallEndedPayload",
    "Caller",
    "Contract",
    "CrewArrived",
    "CrewDeparted",
    "CrewReportPayload",
    "DeviceFaultReportedPayload",
    "Envelope",
    "Fault",
    "FaultCleared",
    "Link",
    "NetworkIncidentPayload",
    "NetworkIncidentRecorded",
    "OrderAcceptedByCrew",
    "OrderReachedCrew",
    "Position",
    "PositionReportedPayload",
    "VehicleDeviceFaultReported",
    "VehicleEvent",
    "VehiclePositionReported",
    "WorkOrderDispatched",
    "WorkOrderDispatchedPayload",
    "WorkOrderEvent",
    "WorkOrderEventT",
    "WorkOrderIssued",
    "WorkOrderIssuedPayload",
    "WorkOrderReceived",
    "WorkOrderReceivedPayload",
    "parse_event",
]
