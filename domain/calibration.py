"""Calibration by the source's own rule: a segment's limit is its usual time taken + 1 minute.

Pure statistics over judged timelines (``tools/calibrate.py`` reads them from the timeline
service's database): the usual time of each segment (the median, or another percentile) over the
segments that were judged on both their points (``met`` or ``breached``: a running, incomplete,
invalid, disputed or indeterminate one says nothing reliable about how long the step takes), a
draft policy with limit = usual + 60 s, and how many orders breach under each policy. DE is
calibrated twice, for crews that share the repair center's office and for the others, as the
policy limits it.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.policy import Policy, Segment, SegmentStatus
from domain.timeline.model import SegmentResult, Timeline

MARGIN_S = 60
"""The "+ 1 minute" of "usual time taken + 1 minute"."""

DE_CO_LOCATED, DE_REMOTE = "DE co-located", "DE remote"
LIMITS = ("AB", "BC", "CD", DE_CO_LOCATED, DE_REMOTE, "EF", "FG", "GH")
"""The eight limits a policy holds, by name, in segment order."""

_MEASURED = frozenset({SegmentStatus.MET, SegmentStatus.BREACHED})


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0 to 100) of ``values``, interpolated linearly between the two
    nearest ranks (the median of an even count is the mean of the middle two).

    Raises ``ValueError`` for no values or ``p`` outside 0..100.
    """
    if not values:
        raise ValueError("the percentile of no values is undefined")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must lie in 0..100, not {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def limit_name(timeline: Timeline, segment: Segment) -> str:
    """The policy limit ``segment`` of ``timeline`` is judged by: DE's by the co-location of the
    dispatch it follows (remote without one, as the policy does)."""
    if segment is not Segment.DE:
        return str(segment)
    current = next((attempt for attempt in timeline.attempts if attempt.current), None)
    return DE_CO_LOCATED if current is not None and current.crew_co_located else DE_REMOTE


def _measured(result: SegmentResult) -> bool:
    return (
        result.status in _MEASURED
        and result.start is not None
        and result.end is not None
        and result.duration_s is not None
    )


def samples(timelines: Iterable[Timeline]) -> dict[str, list[float]]:
    """Per limit, the durations (s) of the segments judged on both points, in input order."""
    found: dict[str, list[float]] = {name: [] for name in LIMITS}
    for timeline in timelines:
        for result in timeline.segments:
            if _measured(result):
                assert result.duration_s is not None
                found[limit_name(timeline, result.segment)].append(result.duration_s)
    return found


def usual_times(timelines: Iterable[Timeline], p: float = 50) -> dict[str, float | None]:
    """Per limit, the ``p``-th percentile of its samples (``None`` with no sample)."""
    return {
        name: percentile(values, p) if values else None
        for name, values in samples(timelines).items()
    }


def limit_of(policy: Policy, name: str) -> int:
    """The limit ``name`` (one of ``LIMITS``) in ``policy``, in seconds."""
    if name == DE_CO_LOCATED:
        return policy.de_co_located_limit_s
    if name == DE_REMOTE:
        return policy.de_remote_limit_s
    return policy.limits_s[Segment(name)]


def draft_policy(
    current: Policy,
    usual: Mapping[str, float | None],
    *,
    version: str,
    effective_from: datetime,
) -> Policy:
    """``current`` with each limit set to its usual time + 1 minute, rounded up to the second;
    a limit with no usual time (no sample) keeps its current value. The total (the 45-minute
    promise made to the customer) and the tolerances are kept: they are not usual times."""

    def drafted(name: str) -> int:
        value = usual.get(name)
        return limit_of(current, name) if value is None else max(1, math.ceil(value + MARGIN_S))

    return current.model_copy(
        update={
            "version": version,
            "effective_from": effective_from,
            "limits_s": {
                segment: drafted(str(segment)) for segment in Segment if segment is not Segment.DE
            },
            "de_co_located_limit_s": drafted(DE_CO_LOCATED),
            "de_remote_limit_s": drafted(DE_REMOTE),
        }
    )


def breaches(timelines: Iterable[Timeline]) -> dict[str, int]:
    """Per limit, how many orders have that segment ``breached``; ``"A to H"`` counts the
    orders whose promise is breached and ``"any segment"`` those with at least one breach."""
    counts = dict.fromkeys([*LIMITS, "any segment", "A to H"], 0)
    for timeline in timelines:
        hit = {
            limit_name(timeline, result.segment)
            for result in timeline.segments
            if result.status is SegmentStatus.BREACHED
        }
        for name in hit:
            counts[name] += 1
        counts["any segment"] += bool(hit)
        counts["A to H"] += timeline.total.status is SegmentStatus.BREACHED
    return counts


@dataclass(frozen=True)
class Row:
    """One line of the calibration report."""

    name: str
    samples: int | None
    """How many segments the usual time was taken over; ``None`` on the summary rows."""
    usual_s: float | None
    current_limit_s: int | None
    draft_limit_s: int | None
    breaches_current: int
    breaches_draft: int


def compare(
    current: Policy,
    draft: Policy,
    under_current: Sequence[Timeline],
    under_draft: Sequence[Timeline],
    p: float = 50,
) -> list[Row]:
    """The report: per limit its samples and usual time (under ``current``), both limits, and
    how many of the orders breach it under each policy; then any segment, then A to H."""
    found = samples(under_current)
    usual = usual_times(under_current, p)
    now, then = breaches(under_current), breaches(under_draft)
    rows = [
        Row(
            name=name,
            samples=len(found[name]),
            usual_s=usual[name],
            current_limit_s=limit_of(current, name),
            draft_limit_s=limit_of(draft, name),
            breaches_current=now[name],
            breaches_draft=then[name],
        )
        for name in LIMITS
    ]
    rows.append(Row("any segment", None, None, None, None, now["any segment"], then["any segment"]))
    rows.append(
        Row(
            "A to H",
            None,
            None,
            current.total_limit_s,
            draft.total_limit_s,
            now["A to H"],
            then["A to H"],
        )
    )
    return rows
