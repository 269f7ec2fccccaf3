"""Request and answer bodies of the intake API (the phone system's words)."""

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts import CallEndedPayload, Contract, WorkOrderIssuedPayload


class CallRequest(CallEndedPayload):
    """A call has ended (point A)."""

    ended_at: AwareDatetime = Field(description="When the customer put the phone down (A).")


class IssueRequest(WorkOrderIssuedPayload):
    """The duty chief issues the order (point B)."""

    issued_at: AwareDatetime


class WorkOrderView(Contract):
    work_order_id: UUID
    call_id: str
    ended_at: datetime
    issued_at: datetime | None
    repair_center_id: str | None
