"""What a GPS unit posts: recorded once per report id, answered the same way on every retry."""

import functools
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import TypeAdapter

from contracts import (
    DeviceFaultReportedPayload,
    DeviceRepairedPayload,
    Envelope,
    Vehicle,
    VehicleDeviceFaultReported,
    VehicleDeviceRepaired,
    VehicleEvent,
    WorkOrderRecalled,
)
from domain.errors import InvalidReference
from domain.orders import (
    OrderState,
    Outcome,
    decide_crew_report,
    decide_recall,
    require_dispatched_to,
)
from services.common.clock import utc_now
from services.common.commands import Follow, decide_and_append, in_transaction
from services.common.db import Connection
from services.common.event_store import append, stream_version, work_order_events
from services.common.idempotency import Answered, Scope, once
from services.common.runtime import Runtime
from services.dispatch import effects, fleet, reference_data
from services.dispatch.api_models import (
    AnyReport,
    DeviceFaultReport,
    DeviceRepairedReport,
    OrderReport,
    RecallRequest,
    Report,
    ReportAnswer,
)
from services.dispatch.settings import dispatch_settings

NotPosition = OrderReport | RecallRequest | DeviceFaultReport | DeviceRepairedReport
"""The reports ``record_report`` takes: a position has a path of its own (``positions``)."""

REPORTS: Scope[AnyReport, ReportAnswer] = Scope(
    name="vehicle-report",
    noun="report",
    request=TypeAdapter(Report),
    answer=TypeAdapter(ReportAnswer),
)
"""Keyed by the unit's report id, unique per vehicle; a retry repeats the whole report (type,
order, stamp, position, description), so a reused id with another body is refused, not lost."""


def refuse_far_future(runtime: Runtime, occurred_at: datetime) -> None:
    """422 for a stamp further ahead of our clock than a unit's clock may be: it would set a
    point that has not happened yet. Refused before anything is read or recorded."""
    ahead = occurred_at - utc_now()
    tolerance = runtime.settings.future_stamp_tolerance_s
    if ahead > timedelta(seconds=tolerance):
        raise InvalidReference(
            "occurred_at",
            f"stamped {ahead.total_seconds():.0f} s after our clock, more than the "
            f"{tolerance:.0f} s a unit's clock may be ahead",
        )


def answer_of(vehicle_id: str, report: AnyReport, event: Envelope) -> ReportAnswer:
    """What a unit is answered for a report: the event it recorded, with both clocks."""
    return ReportAnswer(
        vehicle_id=vehicle_id,
        report_id=report.report_id,
        type=report.type,
        work_order_id=report.work_order_id,
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
    )


async def record_report(
    runtime: Runtime, vehicle_id: str, report: NotPosition
) -> Answered[ReportAnswer]:
    """The answer, fresh for the first post of a report id, stored for a retry of it (a
    position report has a path of its own: ``positions.record_position``)."""
    follow = effects.follower(dispatch_settings(runtime))
    prefix = runtime.settings.topic_prefix
    refuse_far_future(runtime, report.occurred_at)

    async def work(conn: Connection) -> Answered[ReportAnswer]:
        async def first_post() -> ReportAnswer:
            await reference_data.get(conn, Vehicle, vehicle_id)  # 404 for a unit we do not know
            return answer_of(
                vehicle_id, report, await _record(conn, prefix, follow, vehicle_id, report)
            )

        scope = REPORTS.within("vehicle", vehicle_id)
        return await once(conn, scope, report.report_id, report, first_post)

    return await in_transaction(runtime, work)


async def _record(
    conn: Connection, prefix: str, follow: Follow, vehicle_id: str, report: NotPosition
) -> Envelope:
    now = utc_now()
    if report.position is not None:
        await fleet.note_position(conn, vehicle_id, report.position, report.occurred_at)
    if isinstance(report, OrderReport | RecallRequest):
        return await _record_on_order(conn, prefix, follow, vehicle_id, report, now)
    event = _vehicle_event(
        report, await _story(conn, vehicle_id, report.work_order_id), vehicle_id, now
    )
    stream = f"vehicle-{vehicle_id}"
    await append(conn, stream, await stream_version(conn, stream), [event], prefix)
    if isinstance(event, VehicleDeviceFaultReported | VehicleDeviceRepaired):
        await fleet.note_device(conn, event)
    return event


async def _record_on_order(
    conn: Connection,
    prefix: str,
    follow: Follow,
    vehicle_id: str,
    report: OrderReport | RecallRequest,
    now: datetime,
) -> Envelope:
    if isinstance(report, RecallRequest):

        def decide_unit_recall(state: OrderState) -> Outcome[WorkOrderRecalled]:
            require_dispatched_to(state, vehicle_id)
            return decide_recall(
                state,
                report.reason,
                f"gps-unit:{vehicle_id}",
                report.occurred_at,
                now,
                f"gps-unit:{vehicle_id}",
                report_id=report.report_id,
            )

        recall = await decide_and_append(
            conn, prefix, report.work_order_id, decide_unit_recall, follow
        )
        return recall.event
    outcome = await decide_and_append(
        conn,
        prefix,
        report.work_order_id,
        lambda state: decide_crew_report(
            state,
            report.type,
            vehicle_id,
            report.report_id,
            report.position,
            report.occurred_at,
            now,
            report.repair,
        ),
        follow,
    )
    return outcome.event


def _vehicle_event(
    report: DeviceFaultReport | DeviceRepairedReport,
    story: dict[str, UUID],
    vehicle_id: str,
    now: datetime,
) -> VehicleEvent:
    fields: dict[str, object] = {
        **story,
        "vehicle_id": vehicle_id,
        "work_order_id": report.work_order_id,
        "occurred_at": report.occurred_at,
        "recorded_at": now,
        "source": f"gps-unit:{vehicle_id}",
    }
    if isinstance(report, DeviceFaultReport):
        payload: DeviceFaultReportedPayload | DeviceRepairedPayload = DeviceFaultReportedPayload(
            report_id=report.report_id, description=report.description, position=report.position
        )
        return VehicleDeviceFaultReported.model_validate({**fields, "payload": payload})
    payload = DeviceRepairedPayload(
        report_id=report.report_id, description=report.description, position=report.position
    )
    return VehicleDeviceRepaired.model_validate({**fields, "payload": payload})


async def _story(conn: Connection, vehicle_id: str, work_order_id: UUID | None) -> dict[str, UUID]:
    """Correlation: the order's story when the unit names the order it carries, else the vehicle's."""
    if work_order_id is None:
        return vehicle_story(vehicle_id)
    state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    dispatched = require_dispatched_to(state, vehicle_id)
    return {"correlation_id": dispatched.correlation_id, "causation_id": dispatched.event_id}


def vehicle_story(vehicle_id: str) -> dict[str, UUID]:
    """The correlation of what a vehicle says of itself, outside any order's story."""
    return {"correlation_id": _vehicle_correlation(vehicle_id)}


@functools.lru_cache(maxsize=100_000)
def _vehicle_correlation(vehicle_id: str) -> UUID:
    # A hash per position report otherwise (issue 9); a fleet's ids fit in the cache.
    return uuid5(NAMESPACE_URL, f"repair-dispatch:vehicle:{vehicle_id}")
