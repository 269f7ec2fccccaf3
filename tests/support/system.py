"""The three services as real processes, on databases and topics of their own for one test run."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import ALL_TOPICS
from tests.support.infra import ROOT, Infra

SERVICES = ("intake", "dispatch", "timeline")


@dataclass(frozen=True)
class System:
    urls: dict[str, str]
    database_urls: dict[str, str]
    topic_prefix: str
    kafka_bootstrap: str
    logs: Path

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())  # names are ours, not user input


def _wait_healthy(
    urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], logs: Path
) -> None:
    deadline = time.monotonic() + 90
    pending = set(urls)
    while pending:
        for name in list(pending):
            if procs[name].poll() is not None:
                raise RuntimeError(f"{name} died:\n{(logs / f'{name}.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{urls[name]}/healthz", timeout=2).status_code == 200:
                    pending.discard(name)
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"not healthy after 90 s: {sorted(pending)}; logs in {logs}")
        time.sleep(0.2)


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([f"{prefix}{t.name}" for t in ALL_TOPICS])
    finally:
        await admin.close()


@contextmanager
def running_system(infra: Infra, logs: Path) -> Iterator[System]:
    run = uuid4().hex[:8]
    databases = {name: f"test_{run}_{name}" for name in SERVICES}
    database_urls = {name: _with_database(infra.postgres_url, db) for name, db in databases.items()}
    urls = {name: f"http://127.0.0.1:{_free_port()}" for name in SERVICES}
    system = System(urls, database_urls, f"test-{run}.", infra.kafka_bootstrap, logs)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for db in databases.values():
        _admin(infra.postgres_url, f'CREATE DATABASE "{db}"')
    try:
        for name in SERVICES:
            env = {
                **os.environ,
                "DATABASE_URL": database_urls[name],
                "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
                "TOPIC_PREFIX": system.topic_prefix,
                "RELAY_IDLE_POLL_S": "0.5",
                # The scripted histories are stamped minutes to days in the past.
                "LIVE_STAMP_TOLERANCE_S": str(30 * 24 * 3600),
            }
            port = urls[name].rsplit(":", 1)[1]
            command = [sys.executable, "-m", "uvicorn", f"services.{name}.app:create_app"]
            with (logs / f"{name}.log").open("wb") as log:
                procs[name] = subprocess.Popen(
                    [*command, "--factory", "--host", "127.0.0.1", "--port", port],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        _wait_healthy(urls, procs, logs)
        yield system
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=30)
        for db in databases.values():
            _admin(infra.postgres_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        asyncio.run(_delete_topics(infra.kafka_bootstrap, system.topic_prefix))
