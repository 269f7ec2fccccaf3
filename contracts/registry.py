"""The one parse point: bytes off a topic to a typed event, by ``event_type``."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import WorkOrderDispatched, WorkOrderReceived
from contracts.intake import CallEnded, WorkOrderIssued
from contracts.network import NetworkIncidentRecorded
from contracts.vehicles import VehicleDeviceFaultReported, VehiclePositionReported

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
)
AnyEvent = (
    WorkOrderEventT | VehiclePositionReported | VehicleDeviceFaultReported | NetworkIncidentRecorded
)

EVENT_CLASSES: tuple[type[AnyEvent], ...] = AnyEvent.__args__

_any_event: TypeAdapter[AnyEvent] = TypeAdapter(
    Annotated[AnyEvent, Field(discriminator="event_type")]
)


def parse_event(raw: bytes | str) -> AnyEvent:
    """Validate one event; raises ``pydantic.ValidationError`` saying what and where."""
    return _any_event.validate_json(raw)
