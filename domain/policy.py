"""The vocabulary and the numbers the 45-minute promise is judged by.

Eight time points (A, the customer puts the phone down, to H, the crew on site), the seven
segments between consecutive points, each segment's limit and the parties that can answer for a
segment. Limits follow the source's rule "usual time taken + 1 minute"; they are versioned so that
a timeline always says which numbers judged it.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator


class Point(StrEnum):
    """The eight time points of one work order, in the order the promise expects them."""

    A = "A"  # the customer puts the phone down: the 45 minutes start
    B = "B"  # the duty chief issues the work order
    C = "C"  # the order arrives at the repair center
    D = "D"  # the repair center dispatches it to a crew and vehicle
    E = "E"  # the order arrives at the crew's GPS unit
    F = "F"  # the crew accepts the order
    G = "G"  # the crew sets off
    H = "H"  # the crew arrives at the fault site: the promise ends

    @property
    def position(self) -> int:
        """Position in A..H (A is 0): the letter order, not any clock's order."""
        return list(Point).index(self)


class Segment(StrEnum):
    """The seven segments between consecutive points; ``start``/``end`` name their points."""

    AB = "AB"
    BC = "BC"
    CD = "CD"
    DE = "DE"
    EF = "EF"
    FG = "FG"
    GH = "GH"

    @property
    def start(self) -> Point:
        """The point that opens the segment (``Segment.AB.start is Point.A``)."""
        return Point(self.value[0])

    @property
    def end(self) -> Point:
        """The point that closes the segment."""
        return Point(self.value[1])

    @property
    def position(self) -> int:
        """Position in AB..GH (AB is 0)."""
        return list(Segment).index(self)


class Responsible(StrEnum):
    """A party that can answer for a segment."""

    CUSTOMER_SERVICE_CENTER = "customer_service_center"
    NETWORK = "network"
    REPAIR_CENTER = "repair_center"
    CREW_RECEIVER = "crew_receiver"
    CREW_REPAIR_STAFF = "crew_repair_staff"


class SegmentStatus(StrEnum):
    """How a segment (or A to H) stands against its limit."""

    MET = "met"
    BREACHED = "breached"
    RUNNING = "running"
    INCOMPLETE = "incomplete"
    INVALID = "invalid"
    """The stamps give a negative duration (the end before the start): never ``met``."""
    DISPUTED = "disputed"
    """The stamps say ``met`` but the finding is contested (ADR 0005): never ``met``."""


_FIXED_LIMIT_SEGMENTS = frozenset(Segment) - {Segment.DE}


class Policy(BaseModel):
    """One version of the limits, in seconds.

    DE has no entry in ``limits_s``: its limit depends on whether the crew shares the repair
    center's office, which the dispatch (point D) says.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    limits_s: dict[Segment, PositiveInt]
    de_co_located_limit_s: PositiveInt = 120
    de_remote_limit_s: PositiveInt = 240
    total_limit_s: PositiveInt = 2700
    clock_ahead_tolerance_s: NonNegativeInt = Field(
        default=120,
        description="An event stamped later than we recorded it by more than this came from a "
        "clock running ahead.",
    )
    late_report_s: NonNegativeInt = Field(
        default=300, description="An event recorded more than this after it occurred came late."
    )
    record_gap_tolerance_s: NonNegativeInt = Field(
        default=60,
        description="A segment whose end was recorded more than this after the segment was "
        "visibly overdue (its start known and its limit passed) cannot be judged met by the end's "
        "stamp alone: it is disputed (ADR 0005).",
    )

    @model_validator(mode="after")
    def _every_fixed_segment_has_a_limit(self) -> Self:
        keys = set(self.limits_s)
        if keys != _FIXED_LIMIT_SEGMENTS:
            missing = sorted(_FIXED_LIMIT_SEGMENTS - keys)
            extra = sorted(keys - _FIXED_LIMIT_SEGMENTS)
            raise ValueError(
                f"limits_s needs exactly AB, BC, CD, EF, FG, GH (DE comes from "
                f"de_co_located_limit_s/de_remote_limit_s); missing {missing}, extra {extra}"
            )
        return self

    def limit_for(self, segment: Segment, *, crew_co_located: bool | None) -> int:
        """The limit of ``segment`` in seconds.

        ``crew_co_located`` matters only for DE; ``None`` (no dispatch known yet) gives the remote
        limit, the one that applies unless the dispatch says the crew shares the office.
        """
        if segment is Segment.DE:
            return self.de_co_located_limit_s if crew_co_located else self.de_remote_limit_s
        return self.limits_s[segment]


DEFAULT_POLICY = Policy(
    version="2026-11-01",
    limits_s={
        Segment.AB: 120,
        Segment.BC: 240,
        Segment.CD: 120,
        Segment.EF: 120,
        Segment.FG: 180,
        Segment.GH: 1680,
    },
    de_co_located_limit_s=120,
    de_remote_limit_s=240,
    total_limit_s=2700,
    clock_ahead_tolerance_s=120,
    late_report_s=300,
    record_gap_tolerance_s=60,
)
"""The source's numbers: 2 + 4 + 2 + 4 (2 when co-located) + 2 + 3 + 28 = 45 minutes."""
