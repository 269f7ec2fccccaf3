"""A message no consumer can read goes to the dead-letter topic with the reason; the rest go on."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.topics import DEAD_LETTERS, WORK_ORDERS
from tests.support.desk import Desk, ago, minutes_after
from tests.support.system import System

pytestmark = pytest.mark.integration


async def test_unreadable_message_is_dead_lettered_and_consumers_go_on(
    system: System, desk: Desk
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            system.topic(WORK_ORDERS.name),
            b'{"event_type": "CallEnded", "oops": true}',
            key=b"poison",
        )
    finally:
        await producer.stop()

    # The consumers must not be stuck behind it: a new order still makes it through.
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, minutes_after(ago(5), A=0, B=1))
    await asyncio.to_thread(desk.timeline, wo, set("AB"))

    consumer = AIOKafkaConsumer(
        system.topic(DEAD_LETTERS.name),
        bootstrap_servers=system.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(30):
            while len(seen) < 2:  # dispatch and timeline both consume the topic
                record = await consumer.getone()
                if record.key == b"poison":
                    seen.append({k: v.decode() for k, v in record.headers})
    finally:
        await consumer.stop()
    for headers in seen:
        assert headers["dead_letter.reason"].startswith("unparseable")
        assert "payload" in headers["dead_letter.reason"]  # says which field was wrong
        assert headers["dead_letter.offset"] == str(sent.offset)
        assert headers["dead_letter.topic"] == system.topic(WORK_ORDERS.name)
