"""What kind of event each work-order event is, asked once per class.

The event classes are pydantic models, whose ``isinstance`` goes through ``ABCMeta`` and costs
about a microsecond when it fails; the judge asks "is this a dispatch, a recall, a crew report?"
of every event on every judgement. The answer depends on the event's class alone, so it is
learnt once per class (by an exhaustive match) and then read from a dict.
"""

from enum import Enum
from typing import assert_never

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
from contracts.intake import CallEnded, WorkOrderClosed, WorkOrderIssued
from contracts.registry import WorkOrderEventT


class Kind(Enum):
    """The role an event plays in a timeline."""

    OPENING = "opening"
    """A call ended, a work order issued or received: A, B or C."""
    DISPATCHED = "dispatched"
    RECALLED = "recalled"
    CREW_POINT = "crew_point"
    """A crew report of E, F, G or H."""
    CLEARED = "cleared"
    """The crew's fault cleared (a crew report, after H)."""
    BLOCKED = "blocked"
    CLOSED = "closed"


_KINDS: dict[type, Kind] = {}


def kind_of(event: WorkOrderEventT) -> Kind:
    """The kind of ``event`` (learnt on the first event of its class)."""
    cls = type(event)
    if cls in _KINDS:
        return _KINDS[cls]
    kind = _KINDS[cls] = _kind_of(event)
    return kind


def _kind_of(event: WorkOrderEventT) -> Kind:
    match event:
        case CallEnded() | WorkOrderIssued() | WorkOrderReceived():
            return Kind.OPENING
        case WorkOrderDispatched():
            return Kind.DISPATCHED
        case WorkOrderRecalled():
            return Kind.RECALLED
        case OrderReachedCrew() | OrderAcceptedByCrew() | CrewDeparted() | CrewArrived():
            return Kind.CREW_POINT
        case FaultCleared():
            return Kind.CLEARED
        case DispatchBlocked():
            return Kind.BLOCKED
        case WorkOrderClosed():
            return Kind.CLOSED
        case _:
            assert_never(event)
