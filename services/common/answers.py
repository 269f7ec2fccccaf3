"""The answer to a request that recorded an event, the same for the first post and its retries."""

from datetime import datetime
from typing import TypeVar
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel

from contracts import WorkOrderEvent
from domain.orders import Outcome
from services.common.idempotency import Answered

T = TypeVar("T", bound=BaseModel)


class Recorded(BaseModel):
    """What an accepted request recorded; a retry of the same request gets the same answer."""

    work_order_id: UUID
    event_id: UUID
    event_type: str
    occurred_at: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, event: WorkOrderEvent) -> "Recorded":
        return cls(
            work_order_id=event.work_order_id,
            event_id=event.event_id,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
        )


def recorded(outcome: Outcome[WorkOrderEvent], response: Response) -> Recorded:
    """The body is the same for the first answer and a retry's; the header tells them apart."""
    return answered(Answered(Recorded.of(outcome.event), replay=not outcome.is_new), response)


def answered(answer: Answered[T], response: Response) -> T:
    """The stored or fresh answer, with ``Idempotent-Replay`` saying which."""
    response.headers["Idempotent-Replay"] = "true" if answer.replay else "false"
    return answer.body
