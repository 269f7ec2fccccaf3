"""What the projection remembers between batches, so that an event costs one parse and one judge.

``OrderMemory`` keeps, per recently seen order, its events as parsed (in the order
``store.order_events`` reads them) and every breach row of it with its status: exactly what the
projection would read back from PostgreSQL; and its segment rows as this process last wrote them.
It is trusted for a partition only while this process was the last to write that partition's
``partition_clocks.last_offset`` (ADR 0012): another instance that took the partition over in a
rebalance, or a batch that never committed, leaves a different offset there, and the partition's
orders are forgotten and read afresh.

``IncidentBook`` holds the network incidents recorded so far and answers ``incidents_as_of`` the
way the store's query does (each incident as last recorded by the instant).
"""

import bisect
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from contracts import NetworkIncidentPayload, NetworkIncidentRecorded, WorkOrderIssued
from contracts.registry import WorkOrderEventT


def _read_order(event: WorkOrderEventT) -> tuple[datetime, UUID]:
    return (event.recorded_at, event.event_id)  # store.order_events' ORDER BY


@dataclass
class Order:
    """One order as the projection last left it."""

    partition: int
    events: list[WorkOrderEventT] = field(default_factory=list)
    """Sorted by (recorded_at, event_id), as ``store.order_events`` returns them."""
    breaches: dict[UUID, bool] = field(default_factory=dict)
    """Every breach row of the order: its event id, and whether it is open."""
    segments_written: dict[str, tuple[object, ...]] = field(default_factory=dict)
    """Its ``order_segments`` rows as this process last wrote them (none when read back): a
    segment whose row would not change is not written again."""

    def add(self, event: WorkOrderEventT) -> None:
        bisect.insort(self.events, event, key=_read_order)

    def department(self) -> str | None:
        """The department the duty chief named when issuing the order (the first issue stands)."""
        issued = [e for e in self.events if isinstance(e, WorkOrderIssued)]
        return issued[0].payload.department if issued else None  # events are in read order


class OrderMemory:
    """The orders seen lately (least recently used go first), trusted per partition."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._orders: OrderedDict[UUID, Order] = OrderedDict()
        self._offsets: dict[int, int | None] = {}
        """The last offset this process wrote per partition; None while a batch is under way."""

    def get(self, work_order_id: UUID) -> Order | None:
        found = self._orders.get(work_order_id)
        if found is not None:
            self._orders.move_to_end(work_order_id)
        return found

    def keep(self, work_order_id: UUID, order: Order) -> None:
        self._orders[work_order_id] = order
        self._orders.move_to_end(work_order_id)
        while len(self._orders) > self.capacity:
            self._orders.popitem(last=False)

    def forget(self, work_order_id: UUID) -> None:
        self._orders.pop(work_order_id, None)

    def trust(self, stored: Mapping[int, int | None], partitions: Iterable[int]) -> None:
        """Keep the orders of ``partitions`` only where this process wrote the stored offset,
        then mark them under way until ``written`` says what this batch leaves there."""
        doubtful = {p for p in partitions if self._offsets.get(p) != stored.get(p)}
        if doubtful:
            for work_order_id in [k for k, o in self._orders.items() if o.partition in doubtful]:
                del self._orders[work_order_id]
        for partition in partitions:
            self._offsets[partition] = None

    def written(self, partition: int, last_offset: int) -> None:
        self._offsets[partition] = last_offset


class IncidentBook:
    """Every network incident recorded so far, by ``recorded_at`` (then event id)."""

    def __init__(self) -> None:
        self._keys: list[tuple[datetime, UUID]] = []
        self._incidents: list[NetworkIncidentRecorded] = []
        self._ids: set[UUID] = set()
        self._as_of: dict[int, list[NetworkIncidentPayload]] = {}

    def __contains__(self, event_id: UUID) -> bool:
        return event_id in self._ids

    def add(self, incident: NetworkIncidentRecorded) -> None:
        if incident.event_id in self._ids:
            return
        key = (incident.recorded_at, incident.event_id)
        at = bisect.bisect(self._keys, key)
        self._keys.insert(at, key)
        self._incidents.insert(at, incident)
        self._ids.add(incident.event_id)
        self._as_of.clear()

    def as_of(self, instant: datetime) -> list[NetworkIncidentPayload]:
        """Each incident as last recorded by ``instant``, ordered by incident id (the store's
        ``DISTINCT ON`` order)."""
        known = bisect.bisect_right(self._keys, instant, key=lambda k: k[0])
        found = self._as_of.get(known)
        if found is None:
            latest: dict[str, NetworkIncidentPayload] = {}
            for incident in self._incidents[:known]:  # later records replace earlier ones
                latest[str(incident.payload.incident_id)] = incident.payload
            found = self._as_of[known] = [latest[k] for k in sorted(latest)]
        return found
