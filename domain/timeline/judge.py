"""The order judged under the policy in force when it began (being built: versioned policies)."""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from contracts.network import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import DEFAULT_POLICY
from domain.timeline.compute import compute_timeline
from domain.timeline.model import Timeline


def judge(
    work_order_id: UUID,
    events: Iterable[WorkOrderEventT],
    now: datetime,
    incidents: Iterable[NetworkIncidentPayload] = (),
) -> Timeline:
    """``compute_timeline`` under the policy in force at the order's A."""
    return compute_timeline(work_order_id, events, DEFAULT_POLICY, now, incidents)
