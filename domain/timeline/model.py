"""The answer: what a work order's timeline looks like as of an instant.

These models are served as they are (the timeline service's HTTP answer and the auditors'
replay), so their field names are part of the interface.
"""

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.policy import Point, Responsible, Segment, SegmentStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AnomalyCode(StrEnum):
    """What can be wrong with the reports behind a timeline."""

    DUPLICATE_POINT = "duplicate_point"
    """Two different reports for one point with the same stamp; harmless."""
    CONFLICTING_POINT = "conflicting_point"
    """A later report claims another time for a point; the first recorded report stands."""
    MISSING_POINT = "missing_point"
    """A point was never recorded although a later point (or the fault cleared) was."""
    OUT_OF_ORDER = "out_of_order"
    """A point is earlier, by the source clocks, than a point that should precede it."""
    CLOCK_AHEAD = "clock_ahead"
    """The source stamped the event later than we recorded it, beyond the tolerance."""
    REPORTED_LATE = "reported_late"
    """We recorded the event long after it occurred."""
    EVENT_AFTER_NOW = "event_after_now"
    """The event says it occurred after the as-of instant (a clock running ahead)."""


class Anomaly(_Frozen):
    code: AnomalyCode
    point: Point | None
    segment: Segment | None
    message: str
    event_ids: list[UUID]


class SegmentResult(_Frozen):
    segment: Segment
    start: AwareDatetime | None
    end: AwareDatetime | None
    duration_s: float | None
    """End minus start; while the end is unknown and the segment live, the time elapsed so far."""
    limit_s: int
    status: SegmentStatus
    responsible: Responsible | None
    """Who holds (or held) the order in this segment; ``None`` only when its start is unknown."""
    evidence: str | None
    dispute: str | None = None
    """Why the finding is contested (a conflicting report, or an end reported only after the
    segment was visibly overdue); ``None`` when it is not. A contested ``met`` is ``disputed``."""


class TotalResult(_Frozen):
    segment: Literal["AH"] = "AH"
    start: AwareDatetime | None
    end: AwareDatetime | None
    duration_s: float | None
    limit_s: int
    status: SegmentStatus
    responsible: list[Responsible]
    """The parties of the breached segments, in segment order, each once."""
    dispute: str | None = None
    """As for a segment: why A to H is contested, if it is."""


class Timeline(_Frozen):
    work_order_id: UUID
    as_of: AwareDatetime
    policy_version: str
    points: dict[Point, AwareDatetime | None]
    segments: list[SegmentResult]
    total: TotalResult
    fault_cleared_at: AwareDatetime | None
    anomalies: list[Anomaly]
