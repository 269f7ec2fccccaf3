"""Settings every service reads from its environment (pydantic-settings)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import TopicSpec


class ServiceSettings(BaseSettings):
    """Defaults point at the project's own local stack (`make up`); set the variables to use others."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(
        description="postgresql://user@host:port/db of this service's own database."
    )
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = Field(
        default="", description="Prepended to every topic name; lets test runs share a broker."
    )
    topic_replication_factor: int = Field(
        default=1, description="For topics this service creates; 3 on a real cluster."
    )
    db_pool_size: int = Field(
        default=20,
        gt=0,
        description="PostgreSQL connections a process holds at most; requests beyond them wait "
        "for one (a GPS unit's report holds one for a single statement).",
    )
    relay_batch_size: int = 500
    relay_linger_s: float = Field(
        default=0.005,
        ge=0,
        description="How long the relay waits after a commit woke it, so that the commits of "
        "those moments are published as one batch.",
    )
    relay_idle_poll_s: float = Field(
        default=1.0, description="Outbox poll when no NOTIFY woke the relay (a safety net)."
    )
    consumer_group: str | None = Field(
        default=None,
        description="Kafka consumer group (prefixed); default the service's name. A rebuild "
        "from offset 0 runs under a group of its own.",
    )
    live_stamp_tolerance_s: float = Field(
        default=120.0,
        gt=0,
        description="How far (either way) a live system's stamp on A, B, C or D may lie from "
        "our clock when it is posted; beyond it the post is refused with 422.",
    )
    max_in_flight: int = Field(
        default=64,
        gt=0,
        description="Requests handled at once; beyond it a request is shed with 503 and "
        "Retry-After instead of queueing without bound.",
    )

    future_stamp_tolerance_s: float = Field(
        default=300.0,
        gt=0,
        description="How far ahead of our clock a GPS unit's stamp may be; a report stamped "
        "further in the future is refused with 422 and the reason.",
    )
    max_body_bytes: int = Field(
        default=64 * 1024, gt=0, description="A request body larger than this is refused with 413."
    )
    token_cache_ttl_s: float = Field(
        default=2.0,
        gt=0,
        description="How long a looked-up token is trusted before it is read again: a "
        "revocation takes effect within this much after the service consumes it.",
    )
    incident_backdate_window_s: float = Field(
        default=3600.0,
        gt=0,
        description="A network incident may start at most this long before it is recorded; "
        "older, it needs an admin token and a `reason`, kept on the event.",
    )

    log_format: Literal["json", "console"] = Field(
        default="json",
        description="json: one JSON object a line on stderr (for machines); console: the same "
        "fields laid out for a developer's terminal.",
    )

    def topic(self, spec: TopicSpec) -> str:
        return f"{self.topic_prefix}{spec.name}"
