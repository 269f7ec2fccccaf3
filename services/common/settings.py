"""Settings every service reads from its environment (pydantic-settings)."""

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
    relay_batch_size: int = 500
    relay_idle_poll_s: float = Field(
        default=1.0, description="Outbox poll when no NOTIFY woke the relay (a safety net)."
    )

    def topic(self, spec: TopicSpec) -> str:
        return f"{self.topic_prefix}{spec.name}"
