"""The one place the projection asks the judge: ``domain.timeline.judge`` at a recorded clock.

Kept apart so that the projection, the replay check and the tests call the judge one way, with
the same policy book.
"""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from contracts import NetworkIncidentPayload
from contracts.registry import WorkOrderEventT
from domain.policy import PolicyBook
from domain.timeline import Timeline, judge
from services.timeline.policies import configured_book


def judged(
    work_order_id: UUID,
    events: Iterable[WorkOrderEventT],
    book: PolicyBook,
    at: datetime,
    incidents: Iterable[NetworkIncidentPayload],
) -> Timeline:
    """The order's timeline at ``at`` under the policy of ``book`` in force at its A."""
    return judge(work_order_id, events, book, at, incidents)


def policy_book() -> PolicyBook:
    """The versioned policies the timeline judges by (``POLICIES_DIR``, read once): the live
    projection and the replay check read the same files."""
    return configured_book()
