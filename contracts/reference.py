"""Reference data as events: repair centers, crews, vehicles and routing rules, as defined at a time.

Each definition replaces the whole previous one for its id, so the history of an id is the list
of its definitions: an auditor reads who led a crew and which phone rang when an escalation was
raised. Keyed by the id they define.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from contracts.envelope import Contract, Envelope, Identifier, Phone, Text
from contracts.topics import REFERENCE_DATA


class RepairCenter(Contract):
    name: Text
    phone: Phone


class Leader(Contract):
    name: Text
    phone: Phone


class Crew(Contract):
    repair_center_id: Identifier
    department: Text
    trade: Identifier = Field(description="e.g. 'low_voltage', '10kv', 'service_drop'.")
    co_located: bool = Field(description="Shares the repair center's office (DE limit 2 min).")
    leaders: Annotated[list[Leader], Field(min_length=2, max_length=2)] = Field(
        description="The two leaders the repair center phones when the crew cannot be reached."
    )
    name: Text | None = None
    phone: Phone | None = Field(default=None, description="The on-duty phone, if not a leader's.")


class Vehicle(Contract):
    crew_id: Identifier
    plate: Identifier | None = None


class RoutingRule(Contract):
    """Which department and repair center an order goes to, for the faults it matches.

    An absent condition matches anything; among the rules that match, the lowest ``priority``
    wins (then the rule id), so that the choice never depends on storage order."""

    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    fault_category: Identifier | None = None
    district: Identifier | None = None
    voltage_min_kv: Annotated[float, Field(ge=0)] | None = None
    voltage_max_kv: Annotated[float, Field(ge=0)] | None = None
    department: Text
    trade: Identifier
    repair_center_id: Identifier


class ReferenceEvent(Envelope):
    topic: ClassVar[str] = REFERENCE_DATA.name

    @property
    def partition_key(self) -> str:
        return f"{self.event_type}:{self.defined_id}"

    @property
    def defined_id(self) -> str:
        raise NotImplementedError


class RepairCenterDefinedPayload(RepairCenter):
    repair_center_id: Identifier


class RepairCenterDefined(ReferenceEvent):
    event_type: Literal["RepairCenterDefined"] = "RepairCenterDefined"
    schema_version: Literal[1] = 1
    payload: RepairCenterDefinedPayload

    @property
    def defined_id(self) -> str:
        return self.payload.repair_center_id


class CrewDefinedPayload(Crew):
    crew_id: Identifier


class CrewDefined(ReferenceEvent):
    event_type: Literal["CrewDefined"] = "CrewDefined"
    schema_version: Literal[1] = 1
    payload: CrewDefinedPayload

    @property
    def defined_id(self) -> str:
        return self.payload.crew_id


class VehicleDefinedPayload(Vehicle):
    vehicle_id: Identifier


class VehicleDefined(ReferenceEvent):
    event_type: Literal["VehicleDefined"] = "VehicleDefined"
    schema_version: Literal[1] = 1
    payload: VehicleDefinedPayload

    @property
    def defined_id(self) -> str:
        return self.payload.vehicle_id


class RoutingRuleDefinedPayload(RoutingRule):
    rule_id: Identifier
    retired: bool = Field(default=False, description="A retired rule no longer routes orders.")


class RoutingRuleDefined(ReferenceEvent):
    event_type: Literal["RoutingRuleDefined"] = "RoutingRuleDefined"
    schema_version: Literal[1] = 1
    payload: RoutingRuleDefinedPayload

    @property
    def defined_id(self) -> str:
        return self.payload.rule_id
