"""The envelope every event travels in.

Two clocks on every event: ``occurred_at`` is the source's clock (the phone system, a dispatcher's
console, a vehicle's GPS unit, which may drift), ``recorded_at`` is ours, set when the writing
service committed the event. Late, duplicated and out-of-order events are normal; consumers order
by ``occurred_at`` and keep ``recorded_at`` as evidence.

``event_type`` is a stable wire name and ``schema_version`` its version: never a Python path, so
that renaming a class never breaks stored history.
"""

from typing import Annotated, Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.topics import WORK_ORDERS

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
"""An id issued by another system (call, crew, vehicle, repair center, report)."""

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 -]{2,31}$")]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Contract(BaseModel):
    """Base of every wire model: immutable, and unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Position(Contract):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Envelope(Contract):
    """Fields common to every event; subclasses fix ``event_type``, ``schema_version``, ``payload``."""

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(description="When it happened, by the source's clock.")
    recorded_at: AwareDatetime = Field(description="When we committed it, by our clock.")
    source: Identifier = Field(
        description="Who observed it: 'phone-system', 'repair-center:<id>', 'gps-unit:<vehicle>'."
    )
    correlation_id: UUID = Field(description="Shared by every event of one work order's story.")
    causation_id: UUID | None = Field(
        default=None, description="The event or request that caused this one, when known."
    )
    payload: Contract

    topic: ClassVar[str]

    @property
    def partition_key(self) -> str:
        """The Kafka key: every event of one key stays in order on one partition."""
        raise NotImplementedError

    @classmethod
    def fields_from(cls, cause: "Envelope", **fields: Any) -> dict[str, Any]:
        """Correlation and causation for an event caused by ``cause``."""
        return {"correlation_id": cause.correlation_id, "causation_id": cause.event_id, **fields}

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)


class WorkOrderEvent(Envelope):
    """An event in one work order's life, keyed by the work order."""

    work_order_id: UUID
    topic: ClassVar[str] = WORK_ORDERS.name

    @property
    def partition_key(self) -> str:
        return str(self.work_order_id)
