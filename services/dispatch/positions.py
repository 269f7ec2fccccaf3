"""A GPS unit's position report, the commonest request (issue 9): one statement, whatever the
history.

A position is recorded as every other report is (ADR 0006): its report id claimed in
``idempotency_keys`` with the report and its answer, a ``VehiclePositionReported`` event in the
vehicle's stream with its outbox row, the vehicle's last position on ``vehicle_status``. Here all
of it is one ``INSERT ... `` statement with data-modifying CTEs, so it commits on its own (durable
when it returns: the answer is sent after) at the cost of one round trip instead of ten. The
stream's next version is taken from the vehicle's status row under that row's lock, so posts
about one vehicle are written in turn and never lose a race on ``(stream_id, version)``; nothing
reads the stream or the order's history. A report naming an order first reads that order's own
stream (a handful of events, never the positions naming it) to find the dispatch it follows.
"""

from datetime import datetime
from uuid import UUID

import asyncpg

from contracts import PositionReportedPayload, VehiclePositionReported
from domain.errors import DomainError, NotFound
from domain.orders import OrderState, require_dispatched_to
from services.common.clock import utc_now
from services.common.commands import in_one_statement
from services.common.db import Connection
from services.common.event_store import (
    ConcurrentWrite,
    lost_version_race,
    work_order_events,
)
from services.common.idempotency import Answered, Scope, stored
from services.common.runtime import Runtime
from services.dispatch.api_models import AnyReport, PositionReport, ReportAnswer
from services.dispatch.reports import REPORTS, answer_of, refuse_far_future, vehicle_story

RECORD_POSITION = """
WITH known AS (
    SELECT 1 FROM vehicles WHERE vehicle_id = $1
), claim AS (
    INSERT INTO idempotency_keys (scope, key, request, answer)
    SELECT $2, $3, $4::text::jsonb, $5::text::jsonb FROM known
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING 1
), status AS (
    INSERT INTO vehicle_status AS s (vehicle_id, position, position_at, stream_version)
    SELECT $1, $6::text::jsonb, $7,
           (SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $8) + 1
    FROM claim
    ON CONFLICT (vehicle_id) DO UPDATE SET
        stream_version = greatest(s.stream_version + 1, EXCLUDED.stream_version),
        position = CASE WHEN s.position_at IS NULL OR s.position_at < EXCLUDED.position_at
                        THEN EXCLUDED.position ELSE s.position END,
        position_at = CASE WHEN s.position_at IS NULL OR s.position_at < EXCLUDED.position_at
                           THEN EXCLUDED.position_at ELSE s.position_at END
    RETURNING stream_version
), event AS (
    INSERT INTO events (stream_id, version, event_id, event_type, schema_version,
                        work_order_id, occurred_at, recorded_at, body)
    SELECT $8, stream_version, $9, $10, $11, $12, $13, $14, $15::text::jsonb FROM status
    RETURNING event_id
), queued AS (
    INSERT INTO outbox (event_id, topic, key) SELECT event_id, $16, $17 FROM event
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM known) AS known, EXISTS (SELECT 1 FROM queued) AS recorded
"""
"""The whole first post of a position report, parameters in this order: vehicle id; the key's
scope, report id, report and answer (JSON text); the position (JSON text) and its stamp; the
stream; the event's id, type, schema version, order (or null), both clocks and body (JSON text);
the outbox's topic and key. ``known``: the vehicle exists; ``recorded``: the report id was new
and everything was written (else nothing was).

Why each part: the claim comes only for a known vehicle (an unknown one is 404 and leaves no
key); the status row's upsert takes the row lock that orders the vehicle's writers and returns
the version (the stream's own maximum too, in case a writer that does not keep the counter, a
vehicle's definition, appended since); the last position moves only forward by the unit's clock,
so a late ping never moves the vehicle back. No NOTIFY: a notifying commit takes a
database-wide lock, and these commits would be flushed one at a time (issue 9); the caller
wakes its process's relay once the statement has returned, committed."""


def position_event(
    vehicle_id: str, report: PositionReport, story: dict[str, UUID], now: datetime
) -> VehiclePositionReported:
    """The event a position report records, stamped by the unit (``occurred_at``) and by us."""
    return VehiclePositionReported(
        **story,
        vehicle_id=vehicle_id,
        work_order_id=report.work_order_id,
        occurred_at=report.occurred_at,
        recorded_at=now,
        source=f"gps-unit:{vehicle_id}",
        payload=PositionReportedPayload(report_id=report.report_id, position=report.position),
    )


def statement_arguments(
    scope: Scope[AnyReport, ReportAnswer],
    vehicle_id: str,
    report: PositionReport,
    event: VehiclePositionReported,
    topic_prefix: str,
) -> tuple[object, ...]:
    """``RECORD_POSITION``'s arguments for the first post of ``report`` as ``event``."""
    return (
        vehicle_id,
        scope.name,
        report.report_id,
        scope.request.dump_json(report).decode(),
        scope.answer.dump_json(answer_of(vehicle_id, report, event)).decode(),
        report.position.model_dump_json(),
        report.occurred_at,
        f"vehicle-{vehicle_id}",
        event.event_id,
        event.event_type,
        event.schema_version,
        event.work_order_id,
        event.occurred_at,
        event.recorded_at,
        event.model_dump_json(),
        f"{topic_prefix}{event.topic}",
        event.partition_key,
    )


async def _story(conn: Connection, vehicle_id: str, work_order_id: UUID | None) -> dict[str, UUID]:
    """Correlation: the order's story when the unit names the order it carries (which must be
    dispatched to this vehicle: 409 otherwise), else the vehicle's."""
    if work_order_id is None:
        return vehicle_story(vehicle_id)
    state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    dispatched = require_dispatched_to(state, vehicle_id)
    return {"correlation_id": dispatched.correlation_id, "causation_id": dispatched.event_id}


async def record_position(
    runtime: Runtime, vehicle_id: str, report: PositionReport
) -> Answered[ReportAnswer]:
    """The answer, fresh for the first post of a report id, stored for a retry of it (and 409,
    with the first report, for the id reused with another body: the same keys as every report)."""
    refuse_far_future(runtime, report.occurred_at)
    scope = REPORTS.within("vehicle", vehicle_id)
    prefix = runtime.settings.topic_prefix

    async def work(conn: Connection) -> Answered[ReportAnswer]:
        try:
            story = await _story(conn, vehicle_id, report.work_order_id)
        except DomainError:
            # A retry is answered as it was the first time, even if the order has moved on
            # since (recalled, say); only a first post is refused.
            if (again := await stored(conn, scope, report.report_id, report)) is not None:
                return again
            raise
        event = position_event(vehicle_id, report, story, utc_now())
        try:
            row = await conn.fetchrow(
                RECORD_POSITION, *statement_arguments(scope, vehicle_id, report, event, prefix)
            )
        except asyncpg.UniqueViolationError as err:
            if lost_version_race(err):
                raise ConcurrentWrite(f"vehicle-{vehicle_id}") from err
            raise
        assert row is not None  # the statement's last SELECT always returns its one row
        if not row["known"]:
            raise NotFound(f"no vehicle {vehicle_id!r}")
        if row["recorded"]:
            runtime.outbox_written()
            return Answered(answer_of(vehicle_id, report, event), replay=False)
        again = await stored(conn, scope, report.report_id, report)
        if again is None:
            # Claimed by a first post that has committed (the claim waits for it): never empty.
            raise RuntimeError(
                f"{scope.name} key {report.report_id!r} is claimed but holds no answer"
            )
        return again

    return await in_one_statement(runtime, work)
