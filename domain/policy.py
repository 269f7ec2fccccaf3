"""The vocabulary and the numbers the 45-minute promise is judged by.

Eight time points (A, the customer puts the phone down, to H, the crew on site), the seven
segments between consecutive points, each segment's limit and the parties that can answer for a
segment. Limits follow the source's rule "usual time taken + 1 minute"; they are versioned so that
a timeline always says which numbers judged it.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)

from domain.errors import NotFound


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
        return _POINT_POSITION[self]  # on every judge's hot path: a lookup, no enum machinery


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
        return _SEGMENT_START[self]

    @property
    def end(self) -> Point:
        """The point that closes the segment."""
        return _SEGMENT_END[self]

    @property
    def position(self) -> int:
        """Position in AB..GH (AB is 0): that of the point that opens it."""
        return _POINT_POSITION[_SEGMENT_START[self]]


# Computed once: the judge asks these millions of times, and an enum built by value (or a
# ``.value`` read through the enum's descriptor) costs far more than a dict lookup.
_POINT_POSITION: dict[Point, int] = {point: n for n, point in enumerate(Point)}
_SEGMENT_START: dict[Segment, Point] = {segment: Point(segment.value[0]) for segment in Segment}
_SEGMENT_END: dict[Segment, Point] = {segment: Point(segment.value[1]) for segment in Segment}


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
    INDETERMINATE = "indeterminate"
    """The stamps say ``breached`` by less than the end's unit is measured to run ahead of our
    clock (ADR 0009): neither a breach nor ``met``; the numbers are in ``skew``."""


_FIXED_LIMIT_SEGMENTS = frozenset(Segment) - {Segment.DE}

DEFAULT_PARTIES: dict[Segment, Responsible] = {
    Segment.AB: Responsible.CUSTOMER_SERVICE_CENTER,
    Segment.BC: Responsible.REPAIR_CENTER,
    Segment.CD: Responsible.REPAIR_CENTER,
    Segment.DE: Responsible.CREW_RECEIVER,
    Segment.EF: Responsible.CREW_RECEIVER,
    Segment.FG: Responsible.CREW_REPAIR_STAFF,
    Segment.GH: Responsible.CREW_REPAIR_STAFF,
}
"""The source's parties. BC and DE are "decided by the network state at the time": theirs is the
receiving side's when the network was healthy; a recorded incident on the link puts a segment on
the network whatever the policy says."""


class Policy(BaseModel):
    """One version of the limits, in seconds.

    DE has no entry in ``limits_s``: its limit depends on whether the crew shares the repair
    center's office, which the dispatch (point D) says.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    effective_from: AwareDatetime = Field(
        description="The instant from which an order is judged under this version: an order "
        "is judged under the policy in force at its A (ADR 0009)."
    )
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
    parties: dict[Segment, Responsible] = Field(
        default_factory=lambda: dict(DEFAULT_PARTIES),
        description="Who answers for each segment; for BC and DE, who answers when the network "
        "was healthy (a recorded incident on the link puts the segment on the network).",
    )

    @model_validator(mode="after")
    def _every_segment_has_a_limit_and_a_party(self) -> Self:
        keys = set(self.limits_s)
        if keys != _FIXED_LIMIT_SEGMENTS:
            missing = sorted(_FIXED_LIMIT_SEGMENTS - keys)
            extra = sorted(keys - _FIXED_LIMIT_SEGMENTS)
            raise ValueError(
                f"limits_s needs exactly AB, BC, CD, EF, FG, GH (DE comes from "
                f"de_co_located_limit_s/de_remote_limit_s); missing {missing}, extra {extra}"
            )
        if set(self.parties) != set(Segment):
            missing = sorted(set(Segment) - set(self.parties))
            raise ValueError(f"parties needs every segment; missing {missing}")
        if Responsible.NETWORK in self.parties.values():
            raise ValueError(
                "the network answers for a segment only when an incident on its link is "
                "recorded; parties names who answers otherwise"
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
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
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


class PolicyBook:
    """Every version of the policy, by the instant it took effect.

    Pure: the files are read at the edge (``services/timeline/policies.py``). Versions are
    unique, and so are the instants they take effect from (two policies in force from one
    instant would leave the order's judge to chance).
    """

    def __init__(self, policies: Iterable[Policy]) -> None:
        ordered = sorted(policies, key=lambda policy: policy.effective_from)
        if not ordered:
            raise ValueError("a policy book needs at least one policy")
        versions = [policy.version for policy in ordered]
        twice = sorted({v for v in versions if versions.count(v) > 1})
        if twice:
            raise ValueError(f"policy versions must be unique; given twice: {twice}")
        for earlier, later in pairwise(ordered):
            if earlier.effective_from == later.effective_from:
                raise ValueError(
                    f"policies {earlier.version} and {later.version} both take effect from "
                    f"{later.effective_from.isoformat()}"
                )
        self._policies = tuple(ordered)
        self._by_version = {policy.version: policy for policy in ordered}

    @property
    def policies(self) -> tuple[Policy, ...]:
        """Every version, the earliest effective first."""
        return self._policies

    @property
    def latest(self) -> Policy:
        """The version that took effect last (or will: it may lie in the future)."""
        return self._policies[-1]

    def in_force(self, at: datetime) -> Policy:
        """The policy in force at ``at``: the last to take effect at or before it. Before the
        first policy took effect, the first applies (there is nothing older to judge by).

        Raises ``ValueError`` if ``at`` is naive.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the instant a policy is looked up for must be timezone-aware")
        in_force = self._policies[0]
        for policy in self._policies[1:]:
            if policy.effective_from > at:
                break
            in_force = policy
        return in_force

    def get(self, version: str) -> Policy:
        """The policy named ``version``; ``NotFound`` (404 over HTTP) if there is none."""
        try:
            return self._by_version[version]
        except KeyError:
            known = ", ".join(self._by_version)
            raise NotFound(f"no policy version {version!r}; known: {known}") from None

    def __len__(self) -> int:
        return len(self._policies)

    def __repr__(self) -> str:
        return f"PolicyBook({[policy.version for policy in self._policies]})"
