"""Kafka as a test of our own reads it: every record of some topics, from offset 0 to the end.

The relay and consumer claims are counted here, not through any service: a plain consumer
with no group, assigned every partition, reading until the end offsets taken at its start.
"""

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import ALL_TOPICS

PARTITIONS = {spec.name: spec.partitions for spec in ALL_TOPICS}


@dataclass(frozen=True)
class Logged:
    """One record as it stands in the log."""

    topic: str
    partition: int
    offset: int
    key: str | None
    body: dict[str, Any]

    @property
    def event_id(self) -> str | None:
        value = self.body.get("event_id")
        return value if isinstance(value, str) else None


def partitions_of(topic: str, prefix: str) -> int:
    """How many partitions a topic of the run has (``prefix`` + one of ``contracts.topics``)."""
    return PARTITIONS[topic.removeprefix(prefix)]


async def _read(bootstrap: str, topics: dict[str, int]) -> list[Logged]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t, count in topics.items() for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Logged] = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                for r in records:
                    if r.offset < ends[tp] and r.value is not None:
                        key = None if r.key is None else r.key.decode()
                        found.append(
                            Logged(tp.topic, tp.partition, r.offset, key, json.loads(r.value))
                        )
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def read_log(bootstrap: str, topics: dict[str, int]) -> list[Logged]:
    """Every record of ``topics`` (name → partition count) up to their current end, in
    (topic, partition, offset) order."""
    records = asyncio.run(_read(bootstrap, topics))
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
