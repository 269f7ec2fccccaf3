"""Kafka at the edge: producer and consumer settings that matter, and topic creation."""

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from contracts.topics import TopicSpec
from services.common.settings import ServiceSettings

TOPIC_ALREADY_EXISTS = 36
# A broker that is away should fail a request within seconds, so that the supervisor notices
# and /readyz says so; the default (40 s) hides an outage for most of a minute.
REQUEST_TIMEOUT_MS = 15_000


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # aiokafka defaults to acks=1 without idempotence: a retried send could then duplicate or
    # reorder an order's events within its partition. No linger: the relay hands over a whole
    # batch before it yields, so its records already go in one request, and lingering only
    # delayed every batch by that much (issue 9, e2e).
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )


def make_consumer(
    settings: ServiceSettings, specs: Iterable[TopicSpec], group_id: str
) -> AIOKafkaConsumer:
    # Offsets are committed only after the effect is committed in PostgreSQL (at least once);
    # the effect itself is idempotent by event id.
    return AIOKafkaConsumer(
        *(settings.topic(spec) for spec in specs),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_prefix}{settings.consumer_group or group_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )


async def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet (the broker refuses to create them implicitly)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
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
                # A Kafka error (transient to the supervisor), e.g. while the broker starts up.
                raise for_code(code)(f"cannot create topic {name}: {message}")
    finally:
        await admin.close()
