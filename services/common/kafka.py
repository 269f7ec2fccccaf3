"""Kafka at the edge: producer and consumer settings that matter, and topic creation."""

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import TopicSpec
from services.common.settings import ServiceSettings

TOPIC_ALREADY_EXISTS = 36


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # aiokafka defaults to acks=1 without idempotence: a retried send could then duplicate or
    # reorder an order's events within its partition.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )


def make_consumer(
    settings: ServiceSettings, specs: Iterable[TopicSpec], group_id: str
) -> AIOKafkaConsumer:
    # Offsets are committed only after the effect is committed in PostgreSQL (at least once);
    # the effect itself is idempotent by event id.
    return AIOKafkaConsumer(
        *(settings.topic(spec) for spec in specs),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_prefix}{group_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet (the broker refuses to create them implicitly)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    settings.topic(s),
                    s.partitions,
                    replication_factor=settings.topic_replication_factor,
                    topic_configs=s.config,
                )
                for s in specs
            ]
        )
        for name, code, *message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {name}: error {code} {message}")
    finally:
        await admin.close()
