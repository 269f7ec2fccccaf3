"""The one parse point: bytes off a topic to a typed event, by ``event_type``.

Bodies of an older ``schema_version`` are brought up to date by the upcasters of
``contracts.upcasting`` before they are validated; see there how to add a version.
"""

from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter

from contracts.access import TokenIssued, TokenRevoked
from contracts.capacity import CapacityAlertRaised
from contracts.clock import ClockTicked
from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import (
    DispatchBlocked,
    WorkOrderDispatched,
    WorkOrderRecalled,
    WorkOrderReceived,
)
from contracts.escalations import EscalationCallRecorded, EscalationClosed, EscalationRaised
from contracts.findings import FindingsRejudged, SegmentBreached
from contracts.intake import CallEnded, WorkOrderClosed, WorkOrderIssued
from contracts.network import NetworkIncidentRecorded
from contracts.reference import CrewDefined, RepairCenterDefined, RoutingRuleDefined, VehicleDefined
from contracts.upcasting import UPCASTERS, upcast
from contracts.vehicles import (
    VehicleAvailabilityChanged,
    VehicleDeviceFaultReported,
    VehicleDeviceRepaired,
    VehiclePositionReported,
)

WorkOrderEventT = (
    CallEnded
    | WorkOrderIssued
    | WorkOrderReceived
    | WorkOrderDispatched
    | OrderReachedCrew
    | OrderAcceptedByCrew
    | CrewDeparted
    | CrewArrived
    | FaultCleared
    | WorkOrderRecalled
    | DispatchBlocked
    | WorkOrderClosed
)
VehicleEventT = (
    VehiclePositionReported
    | VehicleDeviceFaultReported
    | VehicleDeviceRepaired
    | VehicleAvailabilityChanged
)
EscalationEventT = EscalationRaised | EscalationCallRecorded | EscalationClosed
AccessEventT = TokenIssued | TokenRevoked
ReferenceEventT = RepairCenterDefined | CrewDefined | VehicleDefined | RoutingRuleDefined
AnyEvent = (
    WorkOrderEventT
    | VehicleEventT
    | NetworkIncidentRecorded
    | EscalationEventT
    | ReferenceEventT
    | CapacityAlertRaised
    | ClockTicked
    | SegmentBreached
    | FindingsRejudged
    | AccessEventT
)

EVENT_CLASSES: tuple[type[AnyEvent], ...] = AnyEvent.__args__

_any_event: TypeAdapter[AnyEvent] = TypeAdapter(
    Annotated[AnyEvent, Field(discriminator="event_type")]
)


_body: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
T = TypeVar("T")


def parse_event(raw: bytes | str) -> AnyEvent:
    """Validate one event; raises ``pydantic.ValidationError`` saying what and where."""
    return parse_with(_any_event, raw)


def parse_with(adapter: TypeAdapter[T], raw: bytes | str) -> T:
    """``raw`` upcast to the newest version, then validated by ``adapter``.

    While no upcaster exists (every event is at v1) the bytes are validated directly: no body is
    decoded twice on the hot path.
    """
    if not UPCASTERS:
        return adapter.validate_json(raw)
    return adapter.validate_python(upcast(_body.validate_json(raw)))
