"""Re-judging a period under another policy version: an explicit, recorded action.

The live projection stays as it is; each order's answer under the named version is kept beside
it (``rejudged_timelines``, keyed by order and version), judged at the order's own stored clock
so that the two answers differ only by the policy. One ``FindingsRejudged`` event records who
asked, why, and the counts.
"""

from datetime import datetime
from uuid import UUID, uuid4

from contracts.findings import FindingsRejudged, FindingsRejudgedPayload, RejudgedCounts
from domain.findings import timeline_hash
from domain.policy import Policy, SegmentStatus
from domain.timeline import Timeline
from domain.timeline.judge import judge_under
from services.common.clock import utc_now
from services.common.db import Connection
from services.common.event_store import append
from services.timeline import store


async def rejudge_period(
    conn: Connection,
    policy: Policy,
    start: datetime,
    end: datetime,
    requested_by: str,
    reason: str,
    topic_prefix: str,
) -> FindingsRejudged:
    """Judge every order with A in [start, end) under ``policy``; store and record the result."""
    rejudgement_id = uuid4()
    rows = await conn.fetch(
        """
        SELECT work_order_id, judged_at FROM order_projection
        WHERE a_at >= $1 AND a_at < $2 ORDER BY work_order_id
        """,
        start,
        end,
    )
    changed = breached = 0
    for row in rows:
        timeline = await _rejudged(conn, row["work_order_id"], policy, row["judged_at"])
        if timeline is None:
            continue
        live = await conn.fetch(
            "SELECT segment, status, responsible FROM order_segments WHERE work_order_id = $1",
            row["work_order_id"],
        )
        before = {(r["segment"], r["status"], r["responsible"]) for r in live}
        after = {
            (
                s.segment.value,
                s.status.value,
                None if s.responsible is None else s.responsible.value,
            )
            for s in timeline.segments
        }
        changed += before != after
        breached += any(s.status is SegmentStatus.BREACHED for s in timeline.segments)
        await conn.execute(
            """
            INSERT INTO rejudged_timelines (work_order_id, policy_version, rejudgement_id,
                judged_at, hash, body)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (work_order_id, policy_version) DO UPDATE SET
                rejudgement_id = excluded.rejudgement_id, judged_at = excluded.judged_at,
                hash = excluded.hash, body = excluded.body
            """,
            row["work_order_id"],
            policy.version,
            rejudgement_id,
            row["judged_at"],
            timeline_hash(timeline),
            timeline.model_dump(mode="json"),
        )
    now = utc_now()
    event = FindingsRejudged(
        occurred_at=now,
        recorded_at=now,
        source="timeline",
        correlation_id=rejudgement_id,
        payload=FindingsRejudgedPayload(
            rejudgement_id=rejudgement_id,
            policy_version=policy.version,
            period_start=start,
            period_end=end,
            requested_by=requested_by,
            reason=reason,
            counts=RejudgedCounts(orders=len(rows), changed=changed, breached=breached),
        ),
    )
    await append(conn, f"rejudgement-{rejudgement_id}", 0, [event], topic_prefix)
    return event


async def _rejudged(
    conn: Connection, work_order_id: UUID, policy: Policy, at: datetime
) -> Timeline | None:
    events = await store.order_events(conn, work_order_id)
    if not events:
        return None
    incidents = await store.incidents_as_of(conn, at)
    return judge_under(work_order_id, events, policy, at, incidents)


async def rejudged_timeline(
    conn: Connection, work_order_id: UUID, policy_version: str
) -> Timeline | None:
    """The stored answer of a re-judgement of the order under ``policy_version``, if any."""
    body = await conn.fetchval(
        """
        SELECT body FROM rejudged_timelines WHERE work_order_id = $1 AND policy_version = $2
        """,
        work_order_id,
        policy_version,
    )
    return None if body is None else Timeline.model_validate(body)
