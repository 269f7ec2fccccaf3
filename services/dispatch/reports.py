"""What a GPS unit posts: recorded once per report id, answered the same way on every retry."""

from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import TypeAdapter

from contracts import (
    DeviceFaultReportedPayload,
    Envelope,
    PositionReportedPayload,
    Vehicle,
    VehicleDeviceFaultReported,
    VehiclePositionReported,
)
from domain.orders import OrderState, decide_crew_report, require_dispatched_to
from services.common.clock import utc_now
from services.common.commands import decide_and_append, in_transaction
from services.common.db import Connection
from services.common.event_store import append, stream_version, work_order_events
from services.common.idempotency import Answered, Scope, once
from services.common.runtime import Runtime
from services.dispatch import reference_data
from services.dispatch.api_models import (
    DeviceFaultReport,
    OrderReport,
    PositionReport,
    Report,
    ReportAnswer,
)

AnyReport = OrderReport | PositionReport | DeviceFaultReport

REPORTS: Scope[AnyReport, ReportAnswer] = Scope(
    name="vehicle-report",
    noun="report",
    request=TypeAdapter(Report),
    answer=TypeAdapter(ReportAnswer),
)
"""Keyed by the unit's report id, unique per vehicle; a retry repeats the whole report (type,
order, stamp, position, description), so a reused id with another body is refused, not lost."""


async def record_report(
    runtime: Runtime, vehicle_id: str, report: AnyReport
) -> Answered[ReportAnswer]:
    """The answer, fresh for the first post of a report id, stored for a retry of it."""

    async def work(conn: Connection) -> Answered[ReportAnswer]:
        async def first_post() -> ReportAnswer:
            await reference_data.get(conn, Vehicle, vehicle_id)  # 404 for a unit we do not know
            event = await _record(conn, runtime.settings.topic_prefix, vehicle_id, report)
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

        scope = REPORTS.within("vehicle", vehicle_id)
        return await once(conn, scope, report.report_id, report, first_post)

    return await in_transaction(runtime, work)


async def _record(
    conn: Connection,
    prefix: str,
    vehicle_id: str,
    report: AnyReport,
) -> Envelope:
    now = utc_now()
    if isinstance(report, OrderReport):
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
            ),
        )
        return outcome.event
    payload: PositionReportedPayload | DeviceFaultReportedPayload
    cls: type[VehiclePositionReported | VehicleDeviceFaultReported]
    if isinstance(report, PositionReport):
        cls = VehiclePositionReported
        payload = PositionReportedPayload(report_id=report.report_id, position=report.position)
    else:
        cls = VehicleDeviceFaultReported
        payload = DeviceFaultReportedPayload(
            report_id=report.report_id, description=report.description, position=report.position
        )
    event = cls.model_validate(
        {
            **await _story(conn, vehicle_id, report.work_order_id),
            "vehicle_id": vehicle_id,
            "work_order_id": report.work_order_id,
            "occurred_at": report.occurred_at,
            "recorded_at": now,
            "source": f"gps-unit:{vehicle_id}",
            "payload": payload,
        }
    )
    stream = f"vehicle-{vehicle_id}"
    await append(conn, stream, await stream_version(conn, stream), [event], prefix)
    return event


async def _story(conn: Connection, vehicle_id: str, work_order_id: UUID | None) -> dict[str, UUID]:
    """Correlation: the order's story when the unit names the order it carries, else the vehicle's."""
    if work_order_id is None:
        return {"correlation_id": uuid5(NAMESPACE_URL, f"repair-dispatch:vehicle:{vehicle_id}")}
    state = OrderState.fold(work_order_id, await work_order_events(conn, work_order_id))
    dispatched = require_dispatched_to(state, vehicle_id)
    return {"correlation_id": dispatched.correlation_id, "causation_id": dispatched.event_id}
