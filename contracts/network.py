"""Network incidents: what decides who answers for a late BC or DE segment."""

from enum import StrEnum
from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract, Envelope, Identifier, Text
from contracts.topics import NETWORK


class Link(StrEnum):
    """The hops a work order travels over the network."""

    CUSTOMER_SERVICE_TO_REPAIR_CENTER = "customer_service_to_repair_center"  # carries BC
    REPAIR_CENTER_TO_CREW = "repair_center_to_crew"  # carries DE


class NetworkIncidentPayload(Contract):
    incident_id: Identifier
    link: Link
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    repair_center_id: Identifier | None = None
    description: Text | None = None
    reason: Text | None = Field(
        default=None,
        description="Why an incident that started before the back-dating window is recorded "
        "now: given by an admin, required then, kept on the event for the auditors.",
    )
    recorded_by: Identifier | None = Field(
        default=None, description="The token (its id and role) that recorded the incident."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class NetworkIncidentRecorded(Envelope):
    """The communications department recorded (or updated) an incident on a link."""

    event_type: Literal["NetworkIncidentRecorded"] = "NetworkIncidentRecorded"
    schema_version: Literal[1] = 1
    payload: NetworkIncidentPayload
    topic: ClassVar[str] = NETWORK.name

    @property
    def partition_key(self) -> str:
        return self.payload.link.value
