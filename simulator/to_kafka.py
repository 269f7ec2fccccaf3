"""Writes a plan's events straight to Kafka, as the services would publish them: the contracts'
models, the topics of ``contracts/topics.py`` under a prefix, keyed by ``Envelope.partition_key``,
in the order they would have been recorded. For replay benchmarks: a year of history in minutes.

What the services would have recorded: A and B by the phone system (``phone-system``), C and D by
the repair center, E..H and the fault cleared by the vehicle's unit (``gps-unit:<vehicle>``),
each caused by the step before (correlation and causation as ``domain.orders`` sets them), and
the position pings on the vehicles topic. A late unit post is recorded ``LATE_POST_S`` after
its stamp; a duplicated one is the same event published twice (the relay delivers at least
once; consumers keep it once).
"""

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer

from contracts import (
    CallEnded,
    CallEndedPayload,
    Caller,
    CrewArrived,
    CrewDeparted,
    CrewReportPayload,
    Envelope,
    Fault,
    FaultCleared,
    OrderAcceptedByCrew,
    OrderReachedCrew,
    Position,
    PositionReportedPayload,
    RepairRecord,
    VehiclePositionReported,
    WorkOrderDispatched,
    WorkOrderDispatchedPayload,
    WorkOrderIssued,
    WorkOrderIssuedPayload,
    WorkOrderReceived,
    WorkOrderReceivedPayload,
)
from contracts.topics import ALL_TOPICS
from simulator.plan import LATE_POST_S, OrderPlan, Ping, fault_of

CREW_REPORTS: dict[
    str,
    type[OrderReachedCrew]
    | type[OrderAcceptedByCrew]
    | type[CrewDeparted]
    | type[CrewArrived]
    | type[FaultCleared],
] = {
    "E": OrderReachedCrew,
    "F": OrderAcceptedByCrew,
    "G": CrewDeparted,
    "H": CrewArrived,
    "cleared": FaultCleared,
}


def order_events(order: OrderPlan, anchor: datetime, rng: random.Random) -> list[Envelope]:
    """The events the services would record for ``order``, stamped ``anchor + sim_s``."""
    steps = {s.name: s for s in order.steps}

    def at(name: str) -> datetime:
        return anchor + timedelta(seconds=steps[name].sim_s)

    def recorded(name: str) -> datetime:
        # Our clock commits a little after the source's stamp; a late post much later.
        late = LATE_POST_S if steps[name].late else 0.0
        return at(name) + timedelta(seconds=late + rng.uniform(0.02, 0.3))

    def event_id() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    category, description, voltage = fault_of(order)
    story = event_id()
    call = CallEnded(
        event_id=story,
        correlation_id=story,
        work_order_id=order.work_order_id,
        occurred_at=at("A"),
        recorded_at=recorded("A"),
        source="phone-system",
        payload=CallEndedPayload(
            call_id=order.call_id,
            caller=Caller(name="Li Na", phone="+86 10 8888 0000"),
            address=f"{order.index} Dongsi North St",
            location=Position(lat=order.lat, lon=order.lon),
            fault=Fault(category=category, description=description, voltage_kv=voltage),
            agent_id="agent-sim",
        ),
    )
    issued = WorkOrderIssued(
        **WorkOrderIssued.fields_from(call),
        event_id=event_id(),
        work_order_id=order.work_order_id,
        occurred_at=at("B"),
        recorded_at=recorded("B"),
        source="phone-system",
        payload=WorkOrderIssuedPayload(
            duty_chief_id="chief-sim", repair_center_id=order.repair_center_id
        ),
    )
    center = f"repair-center:{order.repair_center_id}"
    received = WorkOrderReceived(
        **WorkOrderReceived.fields_from(issued),
        event_id=event_id(),
        work_order_id=order.work_order_id,
        occurred_at=at("C"),
        recorded_at=recorded("C"),
        source=center,
        payload=WorkOrderReceivedPayload(repair_center_id=order.repair_center_id),
    )
    dispatched = WorkOrderDispatched(
        **WorkOrderDispatched.fields_from(received),
        event_id=event_id(),
        work_order_id=order.work_order_id,
        occurred_at=at("D"),
        recorded_at=recorded("D"),
        source=center,
        payload=WorkOrderDispatchedPayload(
            repair_center_id=order.repair_center_id,
            crew_id=order.crew_id,
            vehicle_id=order.vehicle_id,
            dispatcher_id="dispatcher-sim",
            crew_co_located=order.co_located,
        ),
    )
    events: list[Envelope] = [call, issued, received, dispatched]
    for name, cls in CREW_REPORTS.items():
        step = steps[name]
        assert step.report_id is not None
        report = cls(
            **cls.fields_from(dispatched),
            event_id=event_id(),
            work_order_id=order.work_order_id,
            occurred_at=at(name),
            recorded_at=recorded(name),
            source=f"gps-unit:{order.vehicle_id}",
            payload=CrewReportPayload(
                vehicle_id=order.vehicle_id,
                crew_id=order.crew_id,
                report_id=step.report_id,
                position=Position(lat=order.lat, lon=order.lon) if name == "H" else None,
                repair=RepairRecord(cause="insulation failure", action="replaced the fuse")
                if name == "cleared"
                else None,
            ),
        )
        events.append(report)
        if step.duplicate_at_s is not None:
            events.append(report)  # published again: at least once
    return events


def ping_event(ping: Ping, anchor: datetime, rng: random.Random) -> VehiclePositionReported:
    """A position ping as dispatch records it (on the vehicle's own story)."""
    story = UUID(int=rng.getrandbits(128), version=4)
    at = anchor + timedelta(seconds=ping.sim_s)
    return VehiclePositionReported(
        event_id=UUID(int=rng.getrandbits(128), version=4),
        correlation_id=story,
        vehicle_id=ping.vehicle_id,
        occurred_at=at,
        recorded_at=at + timedelta(seconds=rng.uniform(0.02, 0.3)),
        source=f"gps-unit:{ping.vehicle_id}",
        payload=PositionReportedPayload(
            report_id=ping.report_id, position=Position(lat=ping.lat, lon=ping.lon)
        ),
    )


def in_recorded_order(
    orders: Iterable[OrderPlan],
    pings: Iterable[Ping],
    anchor: datetime,
    seed: int,
) -> Iterator[Envelope]:
    """Every event of ``orders`` (in start order) and ``pings`` (in time order), merged in the
    order of ``recorded_at``, holding only the orders under way at once."""
    rng = random.Random(f"events:{seed}")
    pending: list[tuple[datetime, int, Envelope]] = []
    seq = 0
    ping_iter = iter(pings)
    next_ping = next(ping_iter, None)
    for order in orders:
        start = anchor + timedelta(seconds=order.steps[0].sim_s)
        while next_ping is not None and anchor + timedelta(seconds=next_ping.sim_s) <= start:
            ping = ping_event(next_ping, anchor, rng)
            heapq.heappush(pending, (ping.recorded_at, seq, ping))
            seq += 1
            next_ping = next(ping_iter, None)
        # Whatever was recorded before this order began can go: nothing later precedes it.
        while pending and pending[0][0] <= start:
            yield heapq.heappop(pending)[2]
        for event in order_events(order, anchor, rng):
            heapq.heappush(pending, (event.recorded_at, seq, event))
            seq += 1
    while next_ping is not None:
        ping = ping_event(next_ping, anchor, rng)
        heapq.heappush(pending, (ping.recorded_at, seq, ping))
        seq += 1
        next_ping = next(ping_iter, None)
    while pending:
        yield heapq.heappop(pending)[2]


async def ensure_topics(bootstrap: str, prefix: str) -> None:
    """The project's topics under ``prefix``, created as the services create them."""
    from services.common.kafka import ensure_topics as create
    from services.common.settings import ServiceSettings

    settings = ServiceSettings(
        database_url="postgresql://unused", kafka_bootstrap_servers=bootstrap, topic_prefix=prefix
    )
    await create(settings, ALL_TOPICS)


async def write(
    events: Iterable[Envelope],
    bootstrap: str,
    prefix: str,
    *,
    tick: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> dict[str, int]:
    """Publish ``events`` in order (``acks=all``, idempotent producer); returns counts by topic."""
    await ensure_topics(bootstrap, prefix)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=1 << 20,
    )
    await producer.start()
    counts: dict[str, int] = {}
    waiting: list[Any] = []
    try:
        for event in events:
            topic = f"{prefix}{event.topic}"
            waiting.append(
                await producer.send(topic, value=event.to_json(), key=event.partition_key.encode())
            )
            counts[topic] = counts.get(topic, 0) + 1
            if len(waiting) >= batch:
                for future in waiting:
                    await future
                if tick is not None:
                    tick(len(waiting))
                waiting.clear()
        for future in waiting:
            await future
        if tick is not None:
            tick(len(waiting))
    finally:
        await producer.stop()
    return counts
