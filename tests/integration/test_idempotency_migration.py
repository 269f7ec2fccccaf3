"""A database keyed the old way (intake's `calls`, dispatch's `device_reports`) migrates cleanly.

Every call and report id taken before the migration is still answered the same way on a true
retry, and refused with the first body on another one: nothing a unit or the phone system
retries after the upgrade is recorded twice or lost.
"""

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import psycopg
import pytest
from yoyo import get_backend, read_migrations
from yoyo.migrations import Migration

from contracts import (
    CrewDeparted,
    CrewReportPayload,
    DeviceFaultReportedPayload,
    Envelope,
    Position,
    PositionReportedPayload,
    VehicleDeviceFaultReported,
    VehiclePositionReported,
)
from domain.errors import AlreadyRecorded
from domain.orders import open_work_order
from services.common.answers import Recorded
from services.common.db import COMMON_MIGRATIONS, Connection, create_pool
from services.common.event_store import append
from services.common.idempotency import once
from services.dispatch.api_models import (
    AnyReport,
    DeviceFaultReport,
    OrderReport,
    PositionReport,
    ReportAnswer,
)
from services.dispatch.app import MIGRATIONS as DISPATCH_MIGRATIONS
from services.dispatch.reports import REPORTS
from services.intake.api_models import CallRequest
from services.intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.calls import CALLS
from tests.support.infra import Infra
from tests.unit.factories import CALL

pytestmark = pytest.mark.integration

FOLDERS = (COMMON_MIGRATIONS, INTAKE_MIGRATIONS, DISPATCH_MIGRATIONS)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WO = uuid4()
STORY = uuid4()


@pytest.fixture
def old_database(infra: Infra) -> Iterator[str]:
    """A fresh database at the schema before ADR 0006: only the 0001 migrations applied."""
    name = f"test_migrate_{uuid4().hex[:8]}"
    with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = infra.postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        _apply_migrations(url, lambda m: m.id.startswith("0001."))
        yield url
    finally:
        with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _apply_migrations(url: str, which: Callable[[Migration], bool]) -> None:
    """What ``services.common.db.migrate`` does, for a chosen subset, closing its connection."""
    backend = get_backend(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with backend.lock():
            chosen = read_migrations(*map(str, FOLDERS)).filter(which)
            backend.apply_migrations(backend.to_apply(chosen))
    finally:
        backend.connection.close()


@pytest.fixture
async def conn(old_database: str) -> AsyncIterator[Connection]:
    pool = await create_pool(old_database)
    try:
        async with pool.acquire() as held:
            yield held
    finally:
        await pool.close()


async def _fail() -> Recorded:
    raise AssertionError("a retry must be answered from storage, not recorded again")


async def _fail_report() -> ReportAnswer:
    raise AssertionError("a retry must be answered from storage, not recorded again")


async def _store(conn: Connection, stream: str, event: Envelope) -> None:
    await append(conn, stream, 0, [event], "")


async def _old_report(
    conn: Connection, vehicle_id: str, report: AnyReport, event: Envelope
) -> ReportAnswer:
    """A report as the old code stored it: the event, and the answer only (no request)."""
    await _store(conn, f"vehicle-{vehicle_id}-{report.report_id}", event)
    answer = ReportAnswer(
        vehicle_id=vehicle_id,
        report_id=report.report_id,
        type=report.type,
        work_order_id=report.work_order_id,
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
    )
    await conn.execute(
        "INSERT INTO device_reports (vehicle_id, report_id, answer) VALUES ($1, $2, $3)",
        vehicle_id,
        report.report_id,
        answer.model_dump(mode="json"),
    )
    return answer


async def test_old_keys_migrate_and_are_answered_and_compared_as_before(
    conn: Connection, old_database: str
) -> None:
    # Intake's old table: the call id, its order, its event, the request as posted.
    ended = T0.astimezone(timezone(timedelta(hours=8)))  # as the phone system in Beijing stamps
    call = CallRequest(**dict(CALL), ended_at=ended)
    opened = open_work_order(CALL, ended, T0, "phone-system", tolerance=timedelta(days=1))
    await _store(conn, f"work-order-{opened.work_order_id}", opened)
    await conn.execute(
        "INSERT INTO calls (call_id, work_order_id, event_id, request) VALUES ($1, $2, $3, $4)",
        call.call_id,
        opened.work_order_id,
        opened.event_id,
        call.model_dump(mode="json"),
    )
    # Dispatch's old table: three kinds of report, one with a position and one without an order.
    where = Position(lat=39.93, lon=116.42)
    departed = OrderReport(
        report_id="r-1", type="departed", work_order_id=WO, occurred_at=T0, position=where
    )
    fault = DeviceFaultReport(report_id="r-2", type="device_fault", occurred_at=T0, description="x")
    moved = PositionReport(report_id="r-3", type="position", occurred_at=T0, position=where)
    common = {"occurred_at": T0, "recorded_at": T0, "source": "gps-unit:veh-1"}
    answers = {
        "r-1": await _old_report(
            conn,
            "veh-1",
            departed,
            CrewDeparted(
                **common,
                correlation_id=STORY,
                work_order_id=WO,
                payload=CrewReportPayload(
                    vehicle_id="veh-1", crew_id="crew-1", report_id="r-1", position=where
                ),
            ),
        ),
        "r-2": await _old_report(
            conn,
            "veh-1",
            fault,
            VehicleDeviceFaultReported(
                **common,
                correlation_id=STORY,
                vehicle_id="veh-1",
                payload=DeviceFaultReportedPayload(report_id="r-2", description="x"),
            ),
        ),
        "r-3": await _old_report(
            conn,
            "veh-1",
            moved,
            VehiclePositionReported(
                **common,
                correlation_id=STORY,
                vehicle_id="veh-1",
                payload=PositionReportedPayload(report_id="r-3", position=where),
            ),
        ),
    }

    _apply_migrations(old_database, lambda _: True)

    left = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE tablename IN ('calls', 'device_reports')"
    )
    assert left == []
    async with conn.transaction():
        again = await once(conn, CALLS, call.call_id, call, _fail)
    assert (again.replay, again.body) == (True, Recorded.of(opened))
    vehicle = REPORTS.within("vehicle", "veh-1")
    for report in (departed, fault, moved):
        async with conn.transaction():
            retried = await once(conn, vehicle, report.report_id, report, _fail_report)
        assert (retried.replay, retried.body) == (True, answers[report.report_id])
    arrived = departed.model_copy(update={"type": "arrived"})
    with pytest.raises(AlreadyRecorded) as refused:
        async with conn.transaction():
            await once(conn, vehicle, "r-1", arrived, _fail_report)
    assert refused.value.differs == ("type",)
    assert refused.value.first == departed.model_dump(mode="json")
