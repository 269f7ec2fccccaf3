"""The recorded clock: a tick the timeline writes into every partition of the work-orders topic.

Findings that depend on time passing (a segment running past its limit) must not depend on when
a replay happens to run. So the timeline's producer sends, every second, one ``ClockTicked`` into
each partition of ``repair.work-orders.v1`` (an explicit partition, named again in the payload).
Within a partition the ticks and the orders' events keep one order, the same live and on replay:
the projection judges at the partition's recorded clock, never at the wall clock. A lost tick is
harmless (the next one comes); a tick not later than the partition's clock changes nothing, so
ticks from two instances are harmless too. No consumer but the timeline's projection wants them.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract, Envelope
from contracts.topics import WORK_ORDERS


class ClockTickedPayload(Contract):
    partition: Annotated[int, Field(ge=0, description="The partition the tick was sent to.")]
    at: AwareDatetime = Field(description="The instant the tick stands for, by our clock.")


class ClockTicked(Envelope):
    """Time has passed in one partition of the work-orders topic, up to ``payload.at``."""

    event_type: Literal["ClockTicked"] = "ClockTicked"
    schema_version: Literal[1] = 1
    payload: ClockTickedPayload
    topic: ClassVar[str] = WORK_ORDERS.name

    @property
    def partition_key(self) -> str:
        # Sent to an explicit partition; the key only says which, for tools that show keys.
        return f"clock-{self.payload.partition}"
