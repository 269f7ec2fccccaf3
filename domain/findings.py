"""What the timeline's projection keeps of a judged order, and which segments breach live.

Pure: everything here is a function of a ``Timeline`` (the one judge's answer), so the projection
can always be checked against ``domain.timeline.judge`` at the instant it was judged at.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from domain.policy import Point, Responsible, Segment, SegmentStatus
from domain.timeline.model import SegmentResult, Timeline

BREACH_NAMESPACE = UUID("0f3c6f1e-54a1-4d51-9b0e-7d0a0c9e5a10")
"""uuid5 namespace of ``SegmentBreached`` event ids: one id per order, segment and attempt."""

_ATTEMPT_SEGMENTS = frozenset({Segment.DE, Segment.EF, Segment.FG, Segment.GH})


@dataclass(frozen=True)
class LiveBreach:
    """A segment whose start is known, whose end point has not arrived, past its limit."""

    segment: Segment
    attempt: int
    responsible: Responsible | None
    limit_s: int
    started_at: datetime
    breached_at: datetime
    evidence: str | None


@dataclass(frozen=True)
class SegmentRow:
    """One segment as the projection keeps it (what the reports aggregate)."""

    segment: Segment
    status: SegmentStatus
    responsible: Responsible | None
    duration_s: float | None
    ended: bool
    """Its end point arrived: ``duration_s`` is the segment's length, not the time so far."""
    limit_s: int


@dataclass(frozen=True)
class ProjectionRow:
    """One order as the projection keeps it, judged at ``judged_at``."""

    work_order_id: UUID
    judged_at: datetime
    policy_version: str
    points: dict[Point, datetime | None]
    segments: tuple[SegmentRow, ...]
    total_s: float | None
    total_status: SegmentStatus
    next_due_at: datetime | None
    """When a segment now running reaches its limit: the tick at or after it must judge again."""
    hash: str


def timeline_hash(timeline: Timeline) -> str:
    """SHA-256 of the answer's JSON: equal hashes, equal answers (same judge, same input)."""
    # ``model_dump_json``'s very bytes (its serialiser, its defaults), without its wrapping and
    # the round trip through ``str``: one hash per judgement the projection keeps.
    return hashlib.sha256(timeline.__pydantic_serializer__.to_json(timeline)).hexdigest()


def current_attempt(timeline: Timeline) -> int:
    """The number of the attempt the timeline's D to H follow; 0 when there is none."""
    return next((a.number for a in timeline.attempts if a.current), 0)


def attempt_of(timeline: Timeline, segment: Segment) -> int:
    """The attempt a segment belongs to: the current one for DE to GH, 0 for AB to CD."""
    return current_attempt(timeline) if segment in _ATTEMPT_SEGMENTS else 0


def breach_event_id(work_order_id: UUID, segment: Segment, attempt: int) -> UUID:
    """The deterministic id of the ``SegmentBreached`` of one order, segment and attempt."""
    return uuid5(BREACH_NAMESPACE, f"{work_order_id}/{segment.value}/{attempt}")


def is_running(result: SegmentResult) -> bool:
    """The segment has started, its end point has not arrived and the order has not moved on
    (the judge then measures the time elapsed so far)."""
    return (
        result.start is not None
        and result.end is None
        and result.duration_s is not None
        and result.status in (SegmentStatus.RUNNING, SegmentStatus.BREACHED)
    )


def live_breaches(timeline: Timeline) -> list[LiveBreach]:
    """The running segments already past their limit at the timeline's ``as_of``."""
    found = []
    for result in timeline.segments:
        if not is_running(result) or result.status is not SegmentStatus.BREACHED:
            continue
        assert result.start is not None  # is_running
        found.append(
            LiveBreach(
                segment=result.segment,
                attempt=attempt_of(timeline, result.segment),
                responsible=result.responsible,
                limit_s=result.limit_s,
                started_at=result.start,
                breached_at=result.start + timedelta(seconds=result.limit_s),
                evidence=result.evidence,
            )
        )
    return found


def next_due(timeline: Timeline) -> datetime | None:
    """The earliest instant after ``as_of`` at which a running segment passes its limit."""
    dues = [
        r.start + timedelta(seconds=r.limit_s)
        for r in timeline.segments
        if is_running(r) and r.status is SegmentStatus.RUNNING and r.start is not None
    ]
    return min(dues, default=None)


def projection_row(timeline: Timeline) -> ProjectionRow:
    """What the projection stores of a judged order."""
    return ProjectionRow(
        work_order_id=timeline.work_order_id,
        judged_at=timeline.as_of,
        policy_version=timeline.policy_version,
        points=dict(timeline.points),
        segments=tuple(
            SegmentRow(
                r.segment, r.status, r.responsible, r.duration_s, r.end is not None, r.limit_s
            )
            for r in timeline.segments
        ),
        total_s=timeline.total.duration_s,
        total_status=timeline.total.status,
        next_due_at=next_due(timeline),
        hash=timeline_hash(timeline),
    )
