"""The three services as real processes, on databases and topics of their own for one test run.

``running_system`` is what the integration and e2e tiers use: three processes, started once,
stopped at the end. The faults tier needs more control over the same processes, so the pieces
are public: a ``ServiceProcess`` can be killed with SIGKILL, stopped, restarted and measured; a
``Stack`` owns the processes, the databases and the topic prefix of one run, and can add
instances (a second consumer in the same group, a rebuild from offset 0 on a fresh database);
a ``Watchdog`` plays the process supervisor (``infra/bin/services.sh``'s loop) and keeps a record
of every exit it had to undo.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import ALL_TOPICS
from tests.support.infra import ROOT, Infra
from tests.support.keys import Keyring, register, register_url

SERVICES = ("intake", "dispatch", "timeline")
READY_S = 90.0
_ACCESS = re.compile(r'INFO: +[\d.]+:\d+ - "|\{.*"logger": "uvicorn\.access"')
"""uvicorn's line per request: plain, or a JSON line of its logger (``services.common.logs``)."""


@dataclass(frozen=True)
class System:
    urls: dict[str, str]
    database_urls: dict[str, str]
    topic_prefix: str
    kafka_bootstrap: str
    logs: Path
    processes: Mapping[str, "ServiceProcess"] = field(default_factory=dict, compare=False)
    """The process behind each of ``urls`` (the faults tier kills and restarts them)."""
    keys: Keyring = field(default=None, compare=False)  # type: ignore[assignment]
    """The run's tokens: admin, phone system, auditor, and one per center and vehicle."""

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())  # names are ours, not user input


class ServiceProcess:
    """One uvicorn process of a service: its environment, port and log survive restarts.

    The log file is appended to on every start, so a restarted process's log still shows why
    the previous one ended.
    """

    def __init__(self, name: str, service: str, env: dict[str, str], port: int, log: Path) -> None:
        self.name = name
        self.service = service
        self.env = env
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.wanted = False
        """Whether it should be running: a watchdog restarts it when it ends while wanted."""
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "ServiceProcess":
        assert not self.alive(), f"{self.name} is already running (pid {self.pid})"
        command = [sys.executable, "-m", "uvicorn", f"services.{self.service}.app:create_app"]
        with self.log.open("ab") as log:
            log.write(f"\n===== [harness] starting {self.name} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [*command, "--factory", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wanted = True
        self.starts += 1
        return self

    def wait_ready(self, timeout_s: float = READY_S) -> "ServiceProcess":
        """Poll ``/healthz`` until 200; fail at once, with the log's tail, if the process died."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"{self.name} died (status {code}):\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name} not healthy after {timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no goodbye to Kafka or PostgreSQL, like a power cut."""
        self.wanted = False
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout_s: float = 30.0) -> None:
        """SIGTERM and wait for the graceful shutdown; SIGKILL if it does not come."""
        self.wanted = False
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def restart(self, timeout_s: float = READY_S) -> "ServiceProcess":
        self.terminate()
        return self.start().wait_ready(timeout_s)

    def rss_kb(self) -> int:
        """Resident memory (VmRSS) of the process, in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.name} (pid {self.pid})")

    def log_tail(self, lines: int = 40, *, skip_access: bool = False) -> str:
        """The log's last ``lines`` lines; with ``skip_access``, leaving out uvicorn's one line
        per request, so that what went wrong is not drowned by what went right."""
        if not self.log.exists():
            return f"(no log at {self.log})"
        text = self.log.read_text(errors="replace").splitlines()
        if skip_access:
            text = [line for line in text if not _ACCESS.match(line)]
        return "\n".join(f"  {self.name}| {line}" for line in text[-lines:])


@dataclass(frozen=True)
class Exit:
    """A process that ended while it was wanted (a supervisor had to start it again)."""

    name: str
    status: int | None
    at: float
    log_tail: str


class Stack:
    """The processes, databases and topic prefix of one run; ``close`` removes all of them."""

    def __init__(self, infra: Infra, logs: Path, label: str = "test") -> None:
        self.infra = infra
        self.logs = logs
        self.run = uuid4().hex[:8]
        self.label = label
        self.topic_prefix = f"{label}-{self.run}."
        self.databases: list[str] = []
        self.processes: dict[str, ServiceProcess] = {}
        self._system: System | None = None
        self._keys: Keyring | None = None

    @property
    def system(self) -> System:
        assert self._system is not None, "start_services() first"
        return self._system

    def create_database(self, suffix: str) -> str:
        """A fresh database on the test server, dropped by ``close``; returns its URL."""
        name = f"{self.label}_{self.run}_{suffix}".replace("-", "_")
        _admin(self.infra.postgres_url, f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return _with_database(self.infra.postgres_url, name)

    def env(self, database_url: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka_bootstrap,
            "TOPIC_PREFIX": self.topic_prefix,
            "RELAY_IDLE_POLL_S": "0.5",
            # The scripted histories are stamped minutes to days in the past.
            "LIVE_STAMP_TOLERANCE_S": str(30 * 24 * 3600),
            "INCIDENT_BACKDATE_WINDOW_S": str(30 * 24 * 3600),
            **extra,
        }

    def add(self, name: str, service: str, database_url: str, **extra_env: str) -> ServiceProcess:
        """Start a process (not waiting for it) named ``name`` running ``service``."""
        assert name not in self.processes, f"{name} exists already"
        process = ServiceProcess(
            name,
            service,
            self.env(database_url, **extra_env),
            free_port(),
            self.logs / f"{name}.log",
        )
        self.processes[name] = process
        if self._keys is not None:
            register_url(self._keys, service, process.url)
        return process.start()

    def start_services(self) -> System:
        """The three services on fresh databases; returns the ``System`` once all are healthy."""
        database_urls = {name: self.create_database(name) for name in SERVICES}
        started = [self.add(name, name, database_urls[name]) for name in SERVICES]
        for process in started:
            process.wait_ready()
        urls = {name: self.processes[name].url for name in SERVICES}
        self._keys = Keyring(urls, self.infra.kafka_bootstrap, self.topic_prefix)
        register(self._keys)
        self._system = System(
            urls={name: self.processes[name].url for name in SERVICES},
            database_urls=database_urls,
            topic_prefix=self.topic_prefix,
            kafka_bootstrap=self.infra.kafka_bootstrap,
            logs=self.logs,
            processes={name: self.processes[name] for name in SERVICES},
            keys=self._keys,
        )
        return self._system

    def remove(self, name: str) -> None:
        """Stop an extra instance for good (its log stays)."""
        self.processes.pop(name).terminate()

    def close(self) -> None:
        if self._keys is not None:
            self._keys.close()
        for process in self.processes.values():
            process.wanted = False
            if process.alive():
                assert process.proc is not None
                process.proc.terminate()
        for process in self.processes.values():
            process.terminate()
        for db in self.databases:
            _admin(self.infra.postgres_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        asyncio.run(_delete_topics(self.infra.kafka_bootstrap, self.topic_prefix))


class Watchdog:
    """Starts again, after a second, any process that ended while it was wanted, as the
    supervisor of a real deployment would; every such exit is recorded for the test to judge."""

    def __init__(self, stack: Stack, pause_s: float = 1.0) -> None:
        self.stack = stack
        self.pause_s = pause_s
        self.exits: list[Exit] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for process in list(self.stack.processes.values()):
                proc = process.proc
                if not process.wanted or proc is None or proc.poll() is None:
                    continue
                self.exits.append(
                    Exit(process.name, proc.returncode, time.monotonic(), process.log_tail(60))
                )
                if self._stop.wait(self.pause_s):
                    return
                if process.wanted and not process.alive():
                    try:
                        process.start()
                    except OSError:
                        continue  # tried again on the next round


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([f"{prefix}{t.name}" for t in ALL_TOPICS])
    finally:
        await admin.close()


@contextmanager
def started_stack(infra: Infra, logs: Path, label: str = "test") -> Iterator[Stack]:
    """A ``Stack`` with the three services running (``stack.system``), removed afterwards."""
    stack = Stack(infra, logs, label)
    try:
        stack.start_services()
        yield stack
    finally:
        stack.close()


@contextmanager
def running_system(infra: Infra, logs: Path) -> Iterator[System]:
    with started_stack(infra, logs) as stack:
        yield stack.system
