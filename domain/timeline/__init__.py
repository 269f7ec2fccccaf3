"""A work order's timeline from A to H, rebuilt from its events: points, segments, who answers."""

from domain.timeline.compute import compute_timeline
from domain.timeline.judge import judge, judge_under
from domain.timeline.model import (
    Anomaly,
    AnomalyCode,
    GapResult,
    SegmentResult,
    SkewEvidence,
    Timeline,
    TotalResult,
)

__all__ = [
    "Anomaly",
    "AnomalyCode",
    "GapResult",
    "SegmentResult",
    "SkewEvidence",
    "Timeline",
    "TotalResult",
    "compute_timeline",
    "judge",
    "judge_under",
]
