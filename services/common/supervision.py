"""Background tasks that survive every outage, and end the process on anything else.

Each task (the outbox relay, the consumer) is a body that runs until cancelled. Its supervisor
restarts the body after a pause when it fails for a transient reason (``failures.is_transient``),
however long the outage lasts, and keeps the task's health for ``/readyz``. A failure that is
not transient is a bug that retrying will not cure: the supervisor logs it and asks the process
to stop, so that the process supervisor (systemd, Docker's restart policy, ``infra/bin/services.sh``)
starts a fresh one. A task never ends quietly while the service looks healthy.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.common.clock import utc_now
from services.common.failures import describe, is_transient

log = logging.getLogger(__name__)


class TaskState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass
class TaskHealth:
    """How one background task is doing, as ``/readyz`` shows it."""

    name: str
    state: TaskState = TaskState.STARTING
    since: datetime = field(default_factory=utc_now)
    last_error: str | None = None
    failures: int = 0
    """Consecutive failures since the task was last well."""

    def ok(self) -> None:
        if self.state is not TaskState.OK:
            self.state, self.since, self.failures = TaskState.OK, utc_now(), 0

    def retrying(self, err: BaseException) -> None:
        if self.state is not TaskState.RETRYING:
            self.state, self.since = TaskState.RETRYING, utc_now()
        self.last_error = describe(err)
        self.failures += 1

    def failed(self, err: BaseException) -> None:
        self.state, self.since, self.last_error = TaskState.FAILED, utc_now(), describe(err)

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "last_error": self.last_error,
            "consecutive_failures": self.failures,
        }


Body = Callable[[TaskHealth], Awaitable[None]]


def backoff_s(failures: int, *, first: float = 0.2, most: float = 5.0) -> float:
    """Exponential pause before the next try: 0.2 s, 0.4 s, ... at most ``most``."""
    return float(min(most, first * 2 ** max(0, failures - 1)))


async def supervise(health: TaskHealth, body: Body, on_fatal: Callable[[str], None]) -> None:
    """Run ``body`` until cancelled: again after transient failures, never after a bug."""
    while True:
        try:
            await body(health)
            raise RuntimeError(
                f"{health.name} returned; a background task must run until cancelled"
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:
            if not is_transient(err):
                health.failed(err)
                log.critical("%s cannot go on: %s", health.name, describe(err), exc_info=err)
                on_fatal(health.name)
                return
            health.retrying(err)
            pause = backoff_s(health.failures)
            log.warning("%s failed (%s); again in %.1f s", health.name, describe(err), pause)
            await asyncio.sleep(pause)
