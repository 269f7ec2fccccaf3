"""A work order's timeline from A to H, rebuilt from its events: points, segments, who answers."""

from domain.timeline.compute import compute_timeline
from domain.timeline.judge import judge
from domain.timeline.model import Anomaly, AnomalyCode, SegmentResult, Timeline, TotalResult

__all__ = [
    "Anomaly",
    "AnomalyCode",
    "SegmentResult",
    "Timeline",
    "TotalResult",
    "compute_timeline",
    "judge",
]
