"""Kafka topics: names and settings, the one place they are spelled."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    # Auditors replay from the beginning: nothing is ever deleted by age or size.
    config: dict[str, str] = field(
        default_factory=lambda: {"retention.ms": "-1", "retention.bytes": "-1"}
    )


WORK_ORDERS = TopicSpec("repair.work-orders.v1")
"""Every work-order lifecycle event, keyed by work order id (A–H, fault cleared)."""

VEHICLES = TopicSpec("repair.vehicles.v1")
"""What GPS units say that is about the vehicle itself (position, device fault), keyed by vehicle."""

NETWORK = TopicSpec("repair.network.v1")
"""Network incidents on the links orders travel, keyed by link."""

ESCALATIONS = TopicSpec("repair.escalations.v1")
"""The escalation ladder of rules 1 and 2: raised, phoned, closed; keyed by work order id."""

REFERENCE_DATA = TopicSpec("repair.reference-data.v1")
"""Repair centers, crews, vehicles and routing rules as defined over time, keyed by what they define."""

CAPACITY = TopicSpec("repair.capacity.v1")
"""Rule 5: capacity alerts, keyed by repair center, department and trade."""

FINDINGS = TopicSpec("repair.findings.v1")
"""What the timeline finds: live breaches keyed by work order, re-judgements keyed by their id."""

ACCESS = TopicSpec("repair.access.v1")
"""Access tokens issued and revoked (hashes, never tokens), keyed by token id."""

DEAD_LETTERS = TopicSpec("repair.dead-letters.v1", partitions=1)
"""Messages a consumer could not apply, with the reason in headers; keyed as the original."""

ALL_TOPICS = (
    WORK_ORDERS,
    VEHICLES,
    NETWORK,
    ESCALATIONS,
    REFERENCE_DATA,
    CAPACITY,
    FINDINGS,
    ACCESS,
    DEAD_LETTERS,
)
