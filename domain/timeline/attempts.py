"""Dispatch attempts (rule 4): an order may be recalled from its vehicle and dispatched again.

An attempt opens with a dispatch recorded while no attempt is under way (the first dispatch, or
the first after a recall) and ends with the recall that names it. A dispatch recorded while an
attempt is under way opens nothing: it is another report for that attempt's D (ADR 0005: the
first recorded stands), so posting a second dispatch never moves D. A crew report belongs to the
attempt its ``causation_id`` names (the write side sets it to the dispatch it answers, recorded
before it); one without, from a history older than attempts, to the attempt last dispatched when
we recorded it. A report heard before any dispatch belongs to the first attempt (with no dispatch
known at all it sets E to H, as it always did); one naming a dispatch not recorded before it sets
no point. So a crew on one attempt never sets points for another, and what a report belongs to
is settled when we record it: nothing recorded later changes it.

Everything is read in the order we recorded it, so the answer does not depend on input order.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never, cast
from uuid import UUID

from contracts.crew import (
    CrewArrived,
    CrewDeparted,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
)
from contracts.dispatch import (
    WorkOrderDispatched,
    WorkOrderRecalled,
)
from contracts.envelope import WorkOrderEvent
from contracts.intake import WorkOrderClosed
from contracts.registry import WorkOrderEventT
from domain.timeline._format import at
from domain.timeline.kinds import Kind, kind_of

CrewReport = OrderReachedCrew | OrderAcceptedByCrew | CrewDeparted | CrewArrived | FaultCleared
"""What a GPS unit reports about the attempt it carries: E, F, G, H and the fault cleared."""


def record_order(event: WorkOrderEvent) -> tuple[datetime, datetime, str]:
    """Our clock first: the order in which we learnt of the reports."""
    return (event.recorded_at, event.occurred_at, str(event.event_id))


def record_key(event: WorkOrderEvent) -> tuple[datetime, datetime, UUID]:
    """``record_order``'s very order, cheaper: a UUID orders by its integer, which is the order
    of its canonical (fixed-width, lowercase hex) spelling, so the id need not be spelt."""
    return (event.recorded_at, event.occurred_at, event.event_id)


@dataclass(frozen=True)
class Attempt:
    """One dispatch of the order to a crew and vehicle, and what came of it."""

    number: int
    """1 for the first attempt, in the order we recorded the dispatches that opened them."""
    dispatches: tuple[WorkOrderDispatched, ...]
    """The dispatch that opened the attempt, then any recorded while it was under way."""
    recall: WorkOrderRecalled | None
    reports: tuple[CrewReport, ...]
    """The crew's reports on this attempt, in the order we recorded them."""

    @property
    def dispatch(self) -> WorkOrderDispatched:
        """The dispatch that opened the attempt: its D, and the one a recall names."""
        return self.dispatches[0]


@dataclass(frozen=True)
class IgnoredRecall:
    """A recall that withdrew nothing, and why."""

    recall: WorkOrderRecalled
    why: str


@dataclass(frozen=True)
class Attempts:
    """Every attempt of one order as known at an instant."""

    attempts: tuple[Attempt, ...]
    ignored: tuple[IgnoredRecall, ...]
    unattributed: tuple[CrewReport, ...]
    """Crew reports of an order with no dispatch known at all (they set E to H as before)."""
    orphans: tuple[CrewReport, ...] = ()
    """Crew reports that name as their cause no dispatch we know of: they set no point."""

    @property
    def current(self) -> Attempt | None:
        """The attempt the timeline's D to H follow: the last one, unless it was recalled."""
        if not self.attempts or self.attempts[-1].recall is not None:
            return None
        return self.attempts[-1]


@dataclass
class _Open:
    """An attempt while the events are read."""

    dispatches: list[WorkOrderDispatched]
    recall: WorkOrderRecalled | None = None
    reports: list[CrewReport] = field(default_factory=list)


def trace_recorded(ordered: Iterable[WorkOrderEventT]) -> Attempts:
    """The attempts in ``ordered`` (distinct events of one order, in the order we recorded
    them: ``record_key``).

    A recall counts only when it names the attempt under way, before the crew arrived, cleared
    the fault or the order was closed (as the write side allows); any other is ignored, and
    said so, rather than moving points the crew had already reached.
    """
    opened: list[_Open] = []
    owner: dict[UUID, _Open] = {}
    ignored: list[IgnoredRecall] = []
    early: list[CrewReport] = []  # reports recorded before any dispatch
    orphans: list[CrewReport] = []
    closed: WorkOrderClosed | None = None
    for event in ordered:
        # By kind, learnt once per class: a failed isinstance on these models is costly. The
        # commonest first: crew reports, then A to C.
        match kind_of(event):
            case Kind.CREW_POINT | Kind.CLEARED:
                report = cast(CrewReport, event)
                cause = report.causation_id
                if not opened:
                    early.append(report)
                elif cause is None:
                    opened[-1].reports.append(report)
                elif cause in owner:
                    owner[cause].reports.append(report)
                else:  # names a dispatch not recorded before it: none the write side made
                    orphans.append(report)
            case Kind.OPENING | Kind.BLOCKED:
                pass  # no attempt's business
            case Kind.DISPATCHED:
                dispatch = cast(WorkOrderDispatched, event)
                first = not opened
                if first or opened[-1].recall is not None:
                    opened.append(_Open([dispatch]))
                else:
                    opened[-1].dispatches.append(dispatch)
                owner[dispatch.event_id] = opened[-1]
                if first:  # what the crew said before any dispatch was heard is the first's
                    opened[-1].reports.extend(early)
                    early = []
            case Kind.RECALLED:
                recall = cast(WorkOrderRecalled, event)
                why = _refusal(recall, owner.get(recall.payload.dispatch_event_id), closed)
                if why is None:
                    owner[recall.payload.dispatch_event_id].recall = recall
                else:
                    ignored.append(IgnoredRecall(recall, why))
            case Kind.CLOSED:
                closed = closed or cast(WorkOrderClosed, event)
            case unknown:
                assert_never(unknown)
    return Attempts(
        attempts=tuple(
            Attempt(
                number=n,
                dispatches=tuple(each.dispatches),
                recall=each.recall,
                # Appended as they were read, in record order (those heard before the first
                # dispatch, earlier than it, first): already sorted.
                reports=tuple(each.reports),
            )
            for n, each in enumerate(opened, start=1)
        ),
        ignored=tuple(ignored),
        unattributed=tuple(early),  # with no dispatch known at all
        orphans=tuple(orphans),
    )


def _refusal(
    recall: WorkOrderRecalled, attempt: _Open | None, closed: WorkOrderClosed | None
) -> str | None:
    """Why ``recall`` withdraws nothing, or ``None`` when it withdraws ``attempt``."""
    named = recall.payload.dispatch_event_id
    if attempt is None:
        return f"it names dispatch {named}, which we had not recorded before it"
    if attempt.recall is not None:
        return f"dispatch {named} had already been recalled (event {attempt.recall.event_id})"
    on_site = next((r for r in attempt.reports if isinstance(r, CrewArrived | FaultCleared)), None)
    if on_site is not None:
        return (
            f"the crew had already reported {on_site.event_type} on dispatch {named} (event "
            f"{on_site.event_id}, recorded {at(on_site.recorded_at)}): an order on site is not "
            f"recalled"
        )
    if closed is not None:
        return f"the order had already been closed (event {closed.event_id})"
    return None
