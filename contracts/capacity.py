"""Rule 5: a department and trade whose vehicles are all busy too often, told to its leaders.

Keyed by repair center, department and trade, so that one group's alerts stay in order.
"""

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.envelope import Contract, Envelope, Identifier, Text
from contracts.reference import Leader
from contracts.topics import CAPACITY


class CapacityAlertPayload(Contract):
    alert_id: UUID
    repair_center_id: Identifier
    department: Text | None
    trade: Identifier | None
    window_s: Annotated[float, Field(gt=0)]
    blocked_work_order_ids: Annotated[list[UUID], Field(min_length=1)] = Field(
        description="The orders that found no suitable standby vehicle inside the window."
    )
    leaders: list[Leader] = Field(description="Whom to tell: the group's crews' leaders.")


class CapacityAlertRaised(Envelope):
    event_type: Literal["CapacityAlertRaised"] = "CapacityAlertRaised"
    schema_version: Literal[1] = 1
    payload: CapacityAlertPayload
    topic: ClassVar[str] = CAPACITY.name

    @property
    def partition_key(self) -> str:
        p = self.payload
        return f"{p.repair_center_id}/{p.department or ''}/{p.trade or ''}"
