"""Open loop: every job starts at its intended time whatever became of the earlier ones, and its
latency is counted from that intended time, so a slow system cannot hide by slowing its callers
down (no coordinated omission)."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def intended_times(rate: float, count: int, start_s: float = 0.0) -> list[float]:
    """A constant arrival rate: the ``i``-th of ``count`` starts at ``start_s + i / rate``."""
    if rate <= 0:
        raise ValueError("rate must be > 0")
    return [start_s + i / rate for i in range(count)]


@dataclass(frozen=True)
class Job:
    at_s: float
    """Intended start, seconds after the loop's start."""
    run: Callable[[float], Awaitable[None]]
    """Called with the intended start on the loop's clock."""


async def open_loop(
    jobs: Sequence[Job],
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    started_at: float | None = None,
) -> list[asyncio.Task[None]]:
    """Start each job (sorted by ``at_s``) at ``started_at + at_s`` on ``clock`` without waiting
    for the earlier ones; returns their tasks once the last has started (await them to drain)."""
    t0 = clock() if started_at is None else started_at
    tasks: list[asyncio.Task[None]] = []
    for job in sorted(jobs, key=lambda j: j.at_s):
        due = t0 + job.at_s
        wait = due - clock()
        if wait > 0:
            await sleep(wait)
        tasks.append(asyncio.ensure_future(job.run(due)))
    return tasks


async def sleep_until(
    due: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
) -> None:
    """Sleep until ``due`` on ``clock`` (at once if it is past)."""
    wait = due - clock()
    if wait > 0:
        await sleep(wait)


@dataclass(frozen=True)
class Sample:
    """One logical request: when it should have left, when it left, when its answer came."""

    kind: str
    intended: float
    sent: float
    answered: float
    status: int | None
    """The final answer's status; None when none came in the time allowed."""
    tries: int = 1

    @property
    def latency_s(self) -> float:
        """From the intended send: what the caller waited, delays before sending included."""
        return self.answered - self.intended

    @property
    def service_s(self) -> float:
        """From the first actual send to the final answer."""
        return self.answered - self.sent


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]
