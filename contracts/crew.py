"""Events a crew's GPS unit reports about the order it carries (E, F, G, H, fault cleared).

``occurred_at`` is the unit's own clock, which may drift; ``report_id`` is the unit's id for the
post, repeated on a retry, so a retried post is recognised and changes nothing.
"""

from typing import Literal

from pydantic import Field

from contracts.envelope import Contract, Identifier, Position, Text, WorkOrderEvent


class RepairRecord(Contract):
    """What the crew found and did, reported with the fault cleared."""

    cause: Text
    action: Text
    material: Text | None = None


class CrewReportPayload(Contract):
    vehicle_id: Identifier
    crew_id: Identifier
    report_id: Identifier
    position: Position | None = None
    repair: RepairRecord | None = Field(default=None, description="With a fault cleared only.")


class _CrewReport(WorkOrderEvent):
    schema_version: Literal[1] = 1
    payload: CrewReportPayload


class OrderReachedCrew(_CrewReport):
    """Point E: the order arrived at the crew's GPS unit."""

    event_type: Literal["OrderReachedCrew"] = "OrderReachedCrew"


class OrderAcceptedByCrew(_CrewReport):
    """Point F: the crew accepted the order."""

    event_type: Literal["OrderAcceptedByCrew"] = "OrderAcceptedByCrew"


class CrewDeparted(_CrewReport):
    """Point G: the vehicle set off to the fault."""

    event_type: Literal["CrewDeparted"] = "CrewDeparted"


class CrewArrived(_CrewReport):
    """Point H: the crew arrived at the fault site; the 45-minute promise ends here."""

    event_type: Literal["CrewArrived"] = "CrewArrived"


class FaultCleared(_CrewReport):
    """The fault is cleared; after H, outside the 45-minute promise."""

    event_type: Literal["FaultCleared"] = "FaultCleared"
