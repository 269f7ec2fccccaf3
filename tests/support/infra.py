"""Where the tests find real PostgreSQL and Kafka.

In order: clusters named by ``DATABASE_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``; containers by
testcontainers when a Docker engine answers; else the project's own local ones, started by the
same scripts ``make up`` uses (they reuse what is already running).
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The same variables move the infra scripts' ports (a second local stack beside a first).
LOCAL_POSTGRES = f"postgresql://repair@127.0.0.1:{os.environ.get('PGPORT_LOCAL', '25432')}/postgres"
LOCAL_KAFKA = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"


@dataclass(frozen=True)
class Infra:
    postgres_url: str
    """A server where the tests may create and drop databases."""
    kafka_bootstrap: str


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


def _script(*args: str) -> None:
    subprocess.run([str(ROOT / "infra" / "bin" / args[0]), *args[1:]], check=True)


@contextmanager
def real_infra() -> Iterator[Infra]:
    postgres = os.environ.get("DATABASE_URL")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    with ExitStack() as stack:
        containers = (postgres is None or kafka is None) and _docker_engine()
        if postgres is None and containers:
            from testcontainers.postgres import PostgresContainer

            pg = stack.enter_context(PostgresContainer("postgres:16", driver=None))
            postgres = pg.get_connection_url()
        elif postgres is None:
            _script("postgres.sh", "start")
            postgres = LOCAL_POSTGRES
        if kafka is None and containers:
            from testcontainers.kafka import KafkaContainer

            kafka = stack.enter_context(KafkaContainer().with_kraft()).get_bootstrap_server()
        elif kafka is None:
            _script("kafka.sh", "fetch")
            _script("kafka.sh", "start")
            kafka = LOCAL_KAFKA
        yield Infra(postgres, kafka)
