"""The faults tier's own system: the same three services, built by the same code as the session
system, but on databases and a topic prefix of their own, so that a kill never touches the
services the other tiers use. One per test module; a watchdog plays the process supervisor.
"""

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.support import oracle
from tests.support.desk import Crew, Desk
from tests.support.infra import LOCAL_KAFKA, LOCAL_POSTGRES, ROOT, Infra
from tests.support.keys import HARNESS_AUTH
from tests.support.load import Ledger, Load
from tests.support.oracle import Summary
from tests.support.system import SERVICES, ServiceProcess, Stack, System, Watchdog, started_stack

CREWS = 4
SCENARIO_TIMEOUT_S = 420
"""Above pytest's 300 s: a scenario that fails waits out its catch-up deadlines and should still
report what it found rather than be cut off."""


def not_restartable(infra: Infra) -> str | None:
    """Why this run may not stop and start Kafka and PostgreSQL, or None when it may."""
    external = [v for v in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS") if os.environ.get(v)]
    if external:
        return f"{' and '.join(external)} name clusters of someone else's; we do not restart them"
    if infra.postgres_url != LOCAL_POSTGRES or infra.kafka_bootstrap != LOCAL_KAFKA:
        return "Kafka and PostgreSQL run in containers; the restart scenarios need the local stack"
    return None


@dataclass(frozen=True)
class Readiness:
    at: float
    service: str
    status: int | None
    unwell: tuple[str, ...]


class ReadySampler:
    """``/readyz`` of some services every half second, in a thread: what an on-call engineer's
    dashboard would have shown during the fault."""

    def __init__(self, urls: dict[str, str], every_s: float = 0.5) -> None:
        self.urls = urls
        self.every_s = every_s
        self.samples: list[Readiness] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="readyz", daemon=True)

    def _sample(self) -> None:
        with httpx.Client(auth=HARNESS_AUTH, timeout=3) as client:
            while not self._stop.wait(self.every_s):
                for service, url in self.urls.items():
                    at = time.monotonic()
                    try:
                        answer = client.get(f"{url}/readyz")
                    except httpx.HTTPError:
                        self.samples.append(Readiness(at, service, None, ()))
                        continue
                    unwell = answer.json().get("unwell", []) if answer.status_code == 503 else []
                    self.samples.append(Readiness(at, service, answer.status_code, tuple(unwell)))

    def __enter__(self) -> "ReadySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def between(self, start: float, end: float) -> dict[str, dict[str, int]]:
        """Per service, how often each answer was seen: "200", "503: database,consumer", ..."""
        seen: dict[str, dict[str, int]] = {}
        for r in self.samples:
            if start <= r.at <= end:
                key = "no answer" if r.status is None else str(r.status)
                if r.unwell:
                    key += ": " + ",".join(r.unwell)
                counts = seen.setdefault(r.service, {})
                counts[key] = counts.get(key, 0) + 1
        return seen


@dataclass
class Faults:
    """What a fault scenario works with: the processes, the infrastructure, a load, the oracle."""

    stack: Stack
    watchdog: Watchdog
    infra: Infra
    crews: list[Crew]
    http: httpx.Client
    exits_seen: int = 0
    rebuilds: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> System:
        return self.stack.system

    def process(self, name: str) -> ServiceProcess:
        return self.stack.processes[name]

    @property
    def desk(self) -> Desk:
        return Desk(self.system, self.http)

    def load(self, **options: Any) -> Load:
        return Load(self.system, self.crews, **options)

    def vehicles(self, count: int) -> list[str]:
        """``count`` more crews with a vehicle each, created through the API."""
        return [self.desk.crew(co_located=False).vehicle_id for _ in range(count)]

    # -- instances ---------------------------------------------------------------------------

    def add_timeline(self, name: str) -> ServiceProcess:
        """Another timeline on the same database and in the same consumer group."""
        return self.stack.add(name, "timeline", self.system.database_urls["timeline"]).wait_ready()

    @contextmanager
    def rebuild(self) -> Iterator[str]:
        """A timeline built from nothing: a fresh database, a consumer group of its own (so it
        reads every topic from offset 0), the same topics. Yields its URL."""
        self.rebuilds += 1
        name = f"timeline-rebuild-{self.rebuilds}"
        database = self.stack.create_database(f"rebuild{self.rebuilds}")
        group = f"rebuild-{uuid4().hex[:8]}"
        # A rebuild reads the ticks as recorded; it sends none of its own.
        process = self.stack.add(name, "timeline", database, CONSUMER_GROUP=group, TICKS="false")
        try:
            yield process.wait_ready().url
        finally:
            self.stack.remove(name)

    # -- the infrastructure ------------------------------------------------------------------

    def require_restartable(self) -> None:
        if (reason := not_restartable(self.infra)) is not None:
            pytest.skip(reason)

    def infra_script(self, script: str, action: str) -> None:
        """``infra/bin/<script> <action>`` with this run's environment (so the same ports and
        state directory the infra fixture used)."""
        subprocess.run(
            [str(ROOT / "infra" / "bin" / script), action], check=True, timeout=180, cwd=ROOT
        )

    def ready_sampler(self) -> ReadySampler:
        return ReadySampler({name: self.system.urls[name] for name in SERVICES})

    def all_ready(self, timeout_s: float = 60.0) -> float | None:
        """Seconds until every service's ``/readyz`` answers 200 (None: not within the time)."""
        started = time.monotonic()
        pending = set(SERVICES)
        while pending and time.monotonic() - started < timeout_s:
            for name in sorted(pending):
                try:
                    ready = self.http.get(f"{self.system.urls[name]}/readyz").status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready:
                    pending.discard(name)
            if pending:
                time.sleep(0.25)
        return None if pending else time.monotonic() - started

    # -- the ending ----------------------------------------------------------------------------

    def check(self, scenario: str, ledger: Ledger, **options: Any) -> Summary:
        options.setdefault("timeline_url", self.system.urls["timeline"])
        options.setdefault("dispatch_database_url", self.system.database_urls["dispatch"])
        return oracle.check(scenario, ledger, rebuild=self.rebuild, **options)

    def log_tails(self, names: tuple[str, ...] = SERVICES, lines: int = 40) -> str:
        """The end of each log without the access lines: the errors and warnings."""
        return "\n".join(
            f"--- {name} ({self.process(name).log}), access lines left out:\n"
            + self.process(name).log_tail(lines, skip_access=True)
            for name in names
            if name in self.stack.processes
        )

    def assert_holds(self, summary: Summary, *, logs: tuple[str, ...] = SERVICES) -> None:
        """The oracle held, and no process had to be started again by the watchdog."""
        exits = self.watchdog.exits[self.exits_seen :]
        problems = list(summary.problems)
        problems += [
            f"{e.name} exited by itself (status {e.status}); the watchdog started it again:\n"
            f"{e.log_tail}"
            for e in exits
        ]
        assert not problems, (
            summary.text()
            + "".join(f"\n  {p}" for p in problems[len(summary.problems) :])
            + "\n"
            + self.log_tails(logs)
        )


@pytest.fixture(scope="module")
def faults(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    logs: Path = tmp_path_factory.mktemp("faults-logs")
    with (
        started_stack(infra, logs, label="faults") as stack,
        Watchdog(stack) as watchdog,
        httpx.Client(auth=HARNESS_AUTH, timeout=10) as http,
    ):
        desk = Desk(stack.system, http)
        crews = [desk.crew(co_located=False) for _ in range(CREWS)]
        yield Faults(stack, watchdog, infra, crews, http)


@pytest.fixture(autouse=True)
def _each_scenario_starts_whole(faults: Faults) -> Iterator[None]:
    """Every scenario starts with the three services up, and judges only its own exits."""
    for name in SERVICES:
        process = faults.process(name)
        if not process.alive():
            process.start()
        process.wait_ready()
    faults.exits_seen = len(faults.watchdog.exits)
    started = time.monotonic()
    yield
    print(
        f"\n[faults] scenario took {time.monotonic() - started:.0f} s; logs in {faults.system.logs}"
    )
