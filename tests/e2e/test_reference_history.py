"""Reference data as events: every definition of a repair center, crew, vehicle or routing rule is
recorded, published and listed in its history; the tables stay the current picture."""

import asyncio
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg.types.json import Jsonb
from yoyo import get_backend, read_migrations

from contracts import CrewDefined, RepairCenterDefined, VehicleDefined, parse_event
from contracts.topics import REFERENCE_DATA
from services.common.db import COMMON_MIGRATIONS
from services.dispatch.app import MIGRATIONS as DISPATCH_MIGRATIONS
from services.dispatch.reference_data import story_of
from tests.support.desk import Desk, Json, wait_for
from tests.support.infra import Infra

pytestmark = pytest.mark.e2e

PHONE = "+86 10 6500 0000"


def crew_body(repair_center_id: str, second_leader: str, phone: str = PHONE) -> Json:
    return {
        "repair_center_id": repair_center_id,
        "department": "City supply station",
        "trade": "low_voltage",
        "co_located": True,
        "leaders": [{"name": "Wang", "phone": PHONE}, {"name": second_leader, "phone": phone}],
    }


def stream_rows(desk: Desk, stream_id: str) -> list[tuple[str, str, str, str, object, object]]:
    """(event id, type, topic, key, partition, offset) of a stream's events, in order."""
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        rows = conn.execute(
            """SELECT e.event_id::text, e.event_type, o.topic, o.key,
                      o.kafka_partition, o.kafka_offset
               FROM events e JOIN outbox o USING (event_id)
               WHERE e.stream_id = %s ORDER BY e.version""",
            (stream_id,),
        ).fetchall()
    return [tuple(row) for row in rows]


def read_from_kafka(desk: Desk, topic: str, partition: int, offset: int) -> bytes:
    """The message at one offset, as a consumer that knows nothing of our database reads it."""

    async def read() -> bytes:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=desk.system.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            where = TopicPartition(topic, partition)
            consumer.assign([where])
            consumer.seek(where, offset)
            record = await asyncio.wait_for(consumer.getone(), timeout=20)
            value: bytes | None = record.value
            assert value is not None
            return value
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_two_definitions_of_a_crew_are_its_history_recorded_and_published(desk: Desk) -> None:
    tag = uuid4().hex[:8]
    rc, crew = f"rc-{tag}", f"crew-{tag}"
    center = desk.put("dispatch", f"/v1/repair-centers/{rc}", {"name": "RC", "phone": PHONE})
    assert center.status_code == 201, center.text
    first, second = crew_body(rc, "Zhao"), crew_body(rc, "Qian", "+86 139 0000 0001")
    assert desk.put("dispatch", f"/v1/crews/{crew}", first).status_code == 201
    changed = desk.put("dispatch", f"/v1/crews/{crew}", second)
    assert changed.status_code == 200, changed.text
    assert changed.json()["leaders"][1] == {"name": "Qian", "phone": "+86 139 0000 0001"}
    # Exactly the current definition again: 200, and nothing recorded.
    again = desk.put("dispatch", f"/v1/crews/{crew}", second)
    assert again.status_code == 200, again.text
    assert again.json() == changed.json()

    history = desk.ok(desk.get("dispatch", f"/v1/crews/{crew}/history"))["items"]
    assert [h["definition"]["leaders"][1]["name"] for h in history] == ["Zhao", "Qian"]
    assert history[1]["definition"] == desk.ok(desk.get("dispatch", f"/v1/crews/{crew}"))
    assert history[0]["recorded_at"] < history[1]["recorded_at"]

    rows = stream_rows(desk, f"crew-{crew}")
    assert [r[0] for r in rows] == [h["event_id"] for h in history]
    assert {(r[1], r[2], r[3]) for r in rows} == {
        ("CrewDefined", desk.system.topic(REFERENCE_DATA.name), f"CrewDefined:{crew}")
    }

    def published() -> list[tuple[str, str, str, str, object, object]] | None:
        stamped = stream_rows(desk, f"crew-{crew}")
        return stamped if all(r[5] is not None for r in stamped) else None

    for event_id, _, topic, _, partition, offset in wait_for("the relay to publish", published):
        assert isinstance(partition, int)
        assert isinstance(offset, int)
        on_topic = parse_event(read_from_kafka(desk, topic, partition, offset))
        assert isinstance(on_topic, CrewDefined)
        assert str(on_topic.event_id) == event_id
        assert on_topic.payload.crew_id == crew
        assert on_topic.source == "reference-data"
        assert on_topic.occurred_at == on_topic.recorded_at  # our clock: we observed the change
        assert on_topic.correlation_id == story_of(f"crew-{crew}")

    center_history = desk.ok(desk.get("dispatch", f"/v1/repair-centers/{rc}/history"))
    assert [h["definition"] for h in center_history["items"]] == [{"name": "RC", "phone": PHONE}]


def test_a_vehicle_history_and_refusals_that_record_nothing(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    vehicle = f"veh-{uuid4().hex[:8]}"
    assert (
        desk.put("dispatch", f"/v1/vehicles/{vehicle}", {"crew_id": crew.crew_id}).status_code
        == 201
    )
    moved = desk.put(
        "dispatch", f"/v1/vehicles/{vehicle}", {"crew_id": crew.crew_id, "plate": "京A·1"}
    )
    assert moved.status_code == 200
    items = desk.ok(desk.get("dispatch", f"/v1/vehicles/{vehicle}/history"))["items"]
    assert [i["definition"] for i in items] == [
        {"crew_id": crew.crew_id, "plate": None},
        {"crew_id": crew.crew_id, "plate": "京A·1"},
    ]
    # A vehicle of a crew nobody defined: 422 at crew_id, and its history is still the two.
    orphan = desk.put("dispatch", f"/v1/vehicles/{vehicle}", {"crew_id": "nobody"})
    assert orphan.status_code == 422
    assert orphan.json()["detail"][0]["loc"] == ["body", "crew_id"]
    assert len(desk.ok(desk.get("dispatch", f"/v1/vehicles/{vehicle}/history"))["items"]) == 2
    assert desk.ok(desk.get("dispatch", f"/v1/vehicles/{vehicle}"))["plate"] == "京A·1"
    for kind in ("repair-centers", "crews", "vehicles", "routing-rules"):
        never = desk.get("dispatch", f"/v1/{kind}/never-{uuid4().hex[:6]}/history")
        assert never.status_code == 404, (kind, never.text)
        assert "was ever defined" in never.json()["detail"]


# The rows defined before these events get a first definition from the migration.

FOLDERS = (COMMON_MIGRATIONS, DISPATCH_MIGRATIONS)


def _migrate(url: str, *, up_to_history: bool) -> None:
    backend = get_backend(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with backend.lock():
            migrations = read_migrations(*map(str, FOLDERS))
            if not up_to_history:
                migrations = migrations.filter(lambda m: not m.id.startswith("0006.dispatch"))
            backend.apply_migrations(backend.to_apply(migrations))
    finally:
        backend.connection.close()


@pytest.fixture
def old_dispatch_database(infra: Infra) -> Iterator[str]:
    """A dispatch database before reference data had events, holding a few rows."""
    name = f"test_refhist_{uuid4().hex[:8]}"
    with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = infra.postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        _migrate(url, up_to_history=False)
        yield url
    finally:
        with psycopg.connect(infra.postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def test_the_migration_gives_every_existing_row_one_honest_first_definition(
    old_dispatch_database: str,
) -> None:
    center = {"name": "Dongcheng", "phone": PHONE}
    crew = crew_body("rc-1", "Zhao") | {"name": None, "phone": None}
    vehicle = {"crew_id": "crew-1", "plate": "京A·E1001"}
    with psycopg.connect(old_dispatch_database) as conn:
        conn.execute(
            "INSERT INTO repair_centers (repair_center_id, body, updated_at) VALUES ('rc-1', %s, '2026-01-05T08:00:00Z')",
            (Jsonb(center),),
        )
        conn.execute(
            "INSERT INTO crews (crew_id, repair_center_id, body, updated_at) VALUES ('crew-1', 'rc-1', %s, '2026-01-06T09:30:00Z')",
            (Jsonb(crew),),
        )
        conn.execute(
            "INSERT INTO vehicles (vehicle_id, crew_id, body, updated_at) VALUES ('veh-1', 'crew-1', %s, '2026-01-07T10:00:00Z')",
            (Jsonb(vehicle),),
        )
        # The database has published under a prefix before: the new rows go under it too.
        conn.execute(
            """INSERT INTO events (stream_id, version, event_id, event_type, schema_version,
                                   occurred_at, recorded_at, body)
               VALUES ('x', 1, %s, 'X', 1, now(), now(), '{}')""",
            (uuid4(),),
        )
        conn.execute(
            "INSERT INTO outbox (event_id, topic, key) "
            "SELECT event_id, 'old-1.repair.work-orders.v1', 'k' FROM events"
        )
    _migrate(old_dispatch_database, up_to_history=True)
    with psycopg.connect(old_dispatch_database) as conn:
        rows = conn.execute(
            """SELECT e.stream_id, e.version, e.body::text, e.occurred_at, o.topic, o.key,
                      o.published_at
               FROM events e JOIN outbox o USING (event_id)
               WHERE e.event_type LIKE '%Defined' ORDER BY o.id"""
        ).fetchall()
    assert [(r[0], r[1], r[4], r[5], r[6]) for r in rows] == [
        (
            "repair-center-rc-1",
            1,
            "old-1.repair.reference-data.v1",
            "RepairCenterDefined:rc-1",
            None,
        ),
        ("crew-crew-1", 1, "old-1.repair.reference-data.v1", "CrewDefined:crew-1", None),
        ("vehicle-veh-1", 1, "old-1.repair.reference-data.v1", "VehicleDefined:veh-1", None),
    ]
    events = [parse_event(r[2]) for r in rows]
    assert isinstance(events[0], RepairCenterDefined)
    assert isinstance(events[1], CrewDefined)
    assert isinstance(events[2], VehicleDefined)
    assert events[0].payload.model_dump(exclude={"repair_center_id"}) == center
    assert events[1].payload.model_dump(mode="json", exclude={"crew_id"}) == crew
    assert events[2].payload.plate == "京A·E1001"
    for event, row in zip(events, rows, strict=True):
        # In force since the row's last update; recorded (by us) when the migration ran.
        assert event.occurred_at == row[3]
        assert event.recorded_at > event.occurred_at
        assert event.source == "reference-data-migration"
        assert event.correlation_id == story_of(row[0])
        assert event.partition_key == row[5]
    assert isinstance(events[0].correlation_id, UUID)
