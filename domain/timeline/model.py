"""The answer: what a work order's timeline looks like as of an instant.

These models are served as they are (the timeline service's HTTP answer and the auditors'
replay), so their field names are part of the interface.
"""

from enum import StrEnum
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.policy import Point, Responsible, Segment, SegmentStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The pydantic mypy plugin types ``model_construct`` by each model's fields (so the calls are
    # checked) and sees this base, which has none, as narrowing pydantic's signature.
    @classmethod
    def model_construct(  # type: ignore[override]
        cls, _fields_set: set[str] | None = None, **values: Any
    ) -> Self:
        """pydantic's ``model_construct`` (trusted values, no validation), for these models only
        and several times cheaper: they have no aliases, no extras, no private attributes and no
        post-init, so the instance is its fields in declared order, the defaults of those not
        given, and the names given as ``model_fields_set``: what pydantic's would build.

        The judge builds its answer with it from values it computed with the declared types
        (mypy checks the keywords against the fields); validating them again cost more than
        judging. ``tests/unit/test_judge_equivalence.py`` holds the answers equal, field for
        field and byte for byte, to validated ones.
        """
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(cls.__pydantic_fields__)
        fields: dict[str, Any]
        if tuple(values) == names:  # every field, in declared order (the judge's case)
            fields = values  # ``**values`` is a fresh dict of this call's own
        else:
            fields = {}
            for name, info in cls.__pydantic_fields__.items():
                if name in values:
                    fields[name] = values[name]
                elif not info.is_required():
                    fields[name] = info.get_default(
                        call_default_factory=True, validated_data=fields
                    )
        model = cls.__new__(cls)
        _set = object.__setattr__  # the model is frozen: set its state as pydantic does
        _set(model, "__dict__", fields)
        _set(model, "__pydantic_fields_set__", set(values) if _fields_set is None else _fields_set)
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", None)
        return model


_FIELDS: dict[type[_Frozen], tuple[str, ...]] = {}
"""Per model: the names of its fields, in declared order."""


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
    RECALLED_ATTEMPT = "recalled_attempt"
    """A dispatch was recalled (rule 4): its reports set no point; what it reached, and any
    segment it breached, are the evidence (``attempts``)."""
    UNATTRIBUTED_REPORT = "unattributed_report"
    """A crew report names as its cause no dispatch we know of: it sets no point."""
    IGNORED_RECALL = "ignored_recall"
    """A recall withdrew nothing: it named no attempt under way, or came once the crew was on
    site or the order closed."""


class Anomaly(_Frozen):
    code: AnomalyCode
    point: Point | None
    segment: Segment | None
    message: str
    event_ids: list[UUID]


class SkewReport(_Frozen):
    """One report of a GPS unit used to measure how far ahead of our clock it stamps."""

    event_id: UUID
    event_type: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    ahead_s: float
    """Its stamp minus our record: positive when the unit stamped it later than we recorded it,
    which only a clock running ahead can do."""


class SkewEvidence(_Frozen):
    """Why a finding is ``indeterminate`` (ADR 0009): its end was stamped by a GPS unit whose
    clock runs ahead of ours by at least ``skew_s``, more than the finding's ``margin_s``."""

    source: str
    """The unit, ``gps-unit:<vehicle>``."""
    margin_s: float
    """Duration minus limit by the stamps: how much the stamps say it was breached by."""
    skew_s: float
    """The least the unit's clock runs ahead of ours: the greatest stamp-minus-record over its
    reports on this order recorded no later than the end (a report can reach us late, never
    before it happened)."""
    reports: list[SkewReport]
    """Those reports, in the order we recorded them; the one giving ``skew_s`` among them."""
    message: str


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
    """Why the finding is contested, ``None`` when it is not: a conflicting report that would
    judge it otherwise (both reports, both stamps, the other outcome), or an end recorded only
    after the segment was visibly overdue (for how long, and the reporting source's measured
    delay). A contested ``met`` is ``disputed``; a contested ``breached`` or ``invalid`` stays."""
    skew: SkewEvidence | None = None
    """Set exactly when the status is ``indeterminate``: the margin and the unit's measured
    skew that swallows it (ADR 0009)."""


class TotalResult(_Frozen):
    segment: Literal["AH"] = "AH"
    start: AwareDatetime | None
    end: AwareDatetime | None
    duration_s: float | None
    limit_s: int
    status: SegmentStatus
    responsible: list[Responsible]
    """Once A to H is breached, the parties of the ``breached`` segments, in segment order, each
    once; empty otherwise. A ``disputed`` segment is not counted as a breach here (its stamps say
    met); A to H is itself ``disputed`` when its own finding is contested."""
    dispute: str | None = None
    """As for a segment: why A to H is contested, if it is."""
    skew: SkewEvidence | None = None
    """As for a segment: set exactly when A to H is ``indeterminate``."""


class GapResult(_Frozen):
    """A run of points the order moved past without (ADR 0009): the span from the last point
    before them to the first after is judged against the sum of the limits it covers, and every
    party that could have lost the time is named.

    A point counts as passed without when it had no report by the time we recorded a later
    point, or its first report came only after that (beyond ``record_gap_tolerance_s``): a
    missing point posted afterwards does not dissolve the gap, so the gap's finding cannot be
    posted away. Both ends are known, so a gap is never ``running`` nor ``incomplete``."""

    segments: list[Segment]
    """The segments the span covers, in order (``["DE", "EF"]`` when E is missing)."""
    start: Point
    end: Point
    started_at: AwareDatetime
    ended_at: AwareDatetime
    duration_s: float
    limit_s: int
    """The sum of the covered segments' limits (DE's by co-location, as on the timeline)."""
    status: SegmentStatus
    """``met``, ``breached``, ``invalid``, ``disputed`` or ``indeterminate``, by the same
    rules as a segment's."""
    responsible_candidates: list[Responsible]
    """One party per covered segment, in the same order, as decided for that segment over the
    whole span (BC and DE by the network state during it): who could have lost the time."""
    missing: list[Point]
    """The points passed without; those reported afterwards are named in ``evidence``."""
    evidence: str
    dispute: str | None = None
    skew: SkewEvidence | None = None


class AttemptResult(_Frozen):
    """One dispatch of the order to a crew and vehicle (rule 4: an order recalled may be
    dispatched again). The timeline's D to H follow the current attempt; the others stay here,
    with what their reports reached and how their segments stood when they were recalled."""

    number: int
    """1, 2, ... in the order we recorded the dispatches that opened the attempts."""
    dispatch_event_id: UUID
    """The ``WorkOrderDispatched`` that opened it; the crew's reports on it name it as cause."""
    repair_center_id: str
    vehicle_id: str
    crew_id: str
    crew_co_located: bool
    dispatched_at: AwareDatetime
    current: bool
    """The attempt the timeline's D to H follow: the last one, not recalled."""
    recall_event_id: UUID | None
    recalled_at: AwareDatetime | None
    """The recall's stamp, ``None`` while the attempt stands."""
    recall_reason: str | None
    requested_by: str | None
    """Who asked for the recall: a dispatcher, or ``gps-unit:<vehicle>``."""
    points: dict[Point, AwareDatetime | None]
    """D to H as this attempt's own reports set them (first recorded stands, as on the timeline)."""
    segments: list[SegmentResult]
    """DE to GH judged on this attempt's reports; a recalled attempt's segment still open when it
    was recalled is ``breached`` if we recorded the recall only after it was visibly overdue
    (the recall is no escape), ``incomplete`` otherwise. The current attempt's are the
    timeline's own."""
    gaps: list[GapResult] = []
    """The gaps this attempt's dispatch or reports close (ending at D to H), as
    ``Timeline.gaps`` has them: a gap found on an attempt since recalled stays here."""


class Timeline(_Frozen):
    work_order_id: UUID
    as_of: AwareDatetime
    policy_version: str
    points: dict[Point, AwareDatetime | None]
    segments: list[SegmentResult]
    total: TotalResult
    fault_cleared_at: AwareDatetime | None
    anomalies: list[Anomaly]
    attempts: list[AttemptResult] = []
    """Every dispatch attempt, first to last; empty before the order is dispatched."""
    gaps: list[GapResult] = []
    """Every run of points the order moved past without, with its span judged (ADR 0009)."""
