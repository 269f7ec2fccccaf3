"""The points and segments in letter order, as tuples computed once.

Iterating an enum builds a generator each time; the judge walks these orders thousands of times
per second, so every module of the timeline reads them from here.
"""

from domain.policy import Point, Segment

POINTS: tuple[Point, ...] = tuple(Point)
"""A to H."""

SEGMENTS: tuple[Segment, ...] = tuple(Segment)
"""AB to GH."""

AFTER: dict[Point, tuple[Point, ...]] = {point: POINTS[n + 1 :] for n, point in enumerate(POINTS)}
"""The points after each point, in letter order."""

BEFORE: dict[Point, tuple[Point, ...]] = {point: POINTS[:n] for n, point in enumerate(POINTS)}
"""The points before each point, in letter order."""

INTO: dict[Point, Segment] = {segment.end: segment for segment in SEGMENTS}
"""The segment each point (B to H) closes."""
