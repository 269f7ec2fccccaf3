"""The recorded clock's source: a ``ClockTicked`` into every partition of the work-orders topic.

Sent straight to Kafka (not through the outbox): a lost tick is harmless, the next one comes,
and a tick not later than a partition's clock changes nothing, so two instances may both tick.
"""

import asyncio
from uuid import uuid4

from contracts.clock import ClockTicked, ClockTickedPayload
from contracts.topics import ALL_TOPICS, WORK_ORDERS
from services.common.clock import utc_now
from services.common.kafka import ensure_topics, make_producer
from services.common.runtime import TaskFactory
from services.common.supervision import Body, TaskHealth
from services.timeline.settings import TimelineSettings

SEND_TIMEOUT_S = 15.0


def ticker(settings: TimelineSettings) -> Body:
    """The supervised body that ticks every ``settings.tick_interval_s``."""

    async def run(health: TaskHealth) -> None:
        await ensure_topics(settings, ALL_TOPICS)
        topic = settings.topic(WORK_ORDERS)
        producer = make_producer(settings)
        await producer.start()
        try:
            partitions = sorted(await producer.partitions_for(topic))
            correlation = uuid4()  # one per ticking instance: which instance sent a tick
            while True:
                now = utc_now()
                sends = [
                    await producer.send(
                        topic,
                        value=ClockTicked(
                            occurred_at=now,
                            recorded_at=now,
                            source="timeline",
                            correlation_id=correlation,
                            payload=ClockTickedPayload(partition=p, at=now),
                        ).to_json(),
                        key=f"clock-{p}".encode(),
                        partition=p,
                    )
                    for p in partitions
                ]
                await asyncio.wait_for(asyncio.gather(*sends), timeout=SEND_TIMEOUT_S)
                health.ok()
                await asyncio.sleep(settings.tick_interval_s)
        finally:
            await producer.stop()

    return run


def ticker_task(settings: TimelineSettings) -> dict[str, TaskFactory]:
    """The service's own tasks for ``running(..., tasks=...)``: the ticker, unless switched off."""
    if not settings.ticks:
        return {}
    return {"ticker": lambda _pool, _settings: ticker(settings)}
