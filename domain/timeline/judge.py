"""The order judged under the policy in force when it began (ADR 0009).

Every judgement of an order goes through ``judge``: the services' live answer, the projection,
the replay check and the auditors' reports. It picks the version in force at the order's A, so a
policy published later never silently rewrites an old finding; ``judge_under`` is the explicit
re-judgement under a version one names.
"""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from contracts.network import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import Point, Policy, PolicyBook
from domain.timeline._format import utc
from domain.timeline.compute import compute_timeline
from domain.timeline.model import Timeline
from domain.timeline.points import on_utc, point_of, record_key


def judge(
    work_order_id: UUID,
    events: Iterable[WorkOrderEventT],
    book: PolicyBook,
    now: datetime,
    incidents: Iterable[NetworkIncidentPayload] = (),
) -> Timeline:
    """``compute_timeline`` at ``now`` under the policy of ``book`` in force at the order's A.

    A is the stamp of the first call-ended report recorded by ``now`` (the one that stands on
    the timeline); without one, the earliest stamp among the order's events known by ``now``;
    with no event known, ``now`` itself. ``Timeline.policy_version`` names the version used.
    """
    known = tuple(events)
    # A is picked on the stamps as ``compute_timeline`` reads them, on UTC (``points.on_utc``
    # keeps the copies, so they are made once): the same instants, so the same policy, compared
    # by plain arithmetic rather than by asking each stamp for its offset. ``compute_timeline``
    # gets the events as given: which of two differing posts of one event id stands is chosen
    # on them as they were sent.
    on = now
    if now.tzinfo is not None and now.utcoffset() is not None:  # else compute_timeline says why
        on = utc(now)
    policy = book.in_force(began_at(map(on_utc, known), on))
    return compute_timeline(work_order_id, known, policy, now, incidents)


def judge_under(
    work_order_id: UUID,
    events: Iterable[WorkOrderEventT],
    policy: Policy,
    now: datetime,
    incidents: Iterable[NetworkIncidentPayload] = (),
) -> Timeline:
    """The explicit re-judgement: ``compute_timeline`` under ``policy``, whichever was in force
    at the order's A (a draft, a later version); the answer names that version."""
    return compute_timeline(work_order_id, events, policy, now, incidents)


def began_at(events: Iterable[WorkOrderEventT], now: datetime) -> datetime:
    """The instant that picks the order's policy: A's stamp as the timeline sets it (the first
    call-ended recorded by ``now``), else the earliest stamp known by ``now``, else ``now``."""
    # One pass (asked at every judgement): the first call ended by our clock, the earliest stamp.
    call: WorkOrderEventT | None = None
    earliest: datetime | None = None
    for event in events:
        if not event.recorded_at <= now:
            continue
        if point_of(event) is Point.A and (call is None or record_key(event) < record_key(call)):
            call = event
        if earliest is None or event.occurred_at < earliest:
            earliest = event.occurred_at
    if call is not None:
        return call.occurred_at
    return now if earliest is None else earliest
