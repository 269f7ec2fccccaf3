"""Dead letters are listed with their reasons, and a re-driven one flows to the consumers."""

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from contracts import CallEnded
from contracts.topics import DEAD_LETTERS, WORK_ORDERS
from tests.support.desk import Desk, wait_for
from tests.support.infra import ROOT
from tests.support.system import System
from tests.unit.factories import CALL

pytestmark = pytest.mark.integration


def cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.dead_letters", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "KAFKA_BOOTSTRAP_SERVERS": system.kafka_bootstrap,
            "TOPIC_PREFIX": system.topic_prefix,
            "PATH": "",
        },
    )


async def test_a_dead_letter_is_listed_and_redriven_to_the_consumers(
    system: System, desk: Desk
) -> None:
    now = datetime.now(UTC)
    story = uuid4()
    call = CallEnded(
        event_id=story,
        correlation_id=story,
        work_order_id=uuid4(),
        occurred_at=now,
        recorded_at=now,
        source="phone-system",
        payload=CALL.model_copy(update={"call_id": f"call-{uuid4().hex}"}),
    )
    reason = f"RuntimeError: reference data missing ({uuid4().hex})"
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        parked = await producer.send_and_wait(
            system.topic(DEAD_LETTERS.name),
            call.to_json(),
            key=str(call.work_order_id).encode(),
            headers=[
                ("dead_letter.reason", reason.encode()),
                ("dead_letter.topic", system.topic(WORK_ORDERS.name).encode()),
                ("dead_letter.partition", b"0"),
                ("dead_letter.offset", b"0"),
                ("dead_letter.group", system.topic("timeline").encode()),
                ("dead_letter.at", now.isoformat().encode()),
            ],
        )
    finally:
        await producer.stop()

    listed = await asyncio.to_thread(cli, system, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    [row] = [r for r in rows if r["offset"] == parked.offset]
    assert row["reason"] == reason
    assert (row["event_type"], row["event_id"]) == ("CallEnded", str(story))
    assert row["topic"] == system.topic(WORK_ORDERS.name)

    redriven = await asyncio.to_thread(cli, system, "redrive", str(parked.offset))
    assert redriven.returncode == 0, redriven.stderr
    assert f"dead letter {parked.offset} -> {system.topic(WORK_ORDERS.name)}" in redriven.stdout

    def on_timeline() -> bool:
        answer = desk.get("timeline", f"/v1/work-orders/{call.work_order_id}/events")
        return answer.status_code == 200 and [e["event_id"] for e in answer.json()] == [str(story)]

    await asyncio.to_thread(wait_for, "the re-driven call on the timeline", on_timeline)


async def test_redriving_an_offset_that_is_not_there_says_so(system: System) -> None:
    answer = await asyncio.to_thread(cli, system, "redrive", "999999")
    assert answer.returncode != 0
    assert "no dead letter at offset(s) [999999]" in answer.stderr
