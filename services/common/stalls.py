"""How long a process stops answering: its event loop held by one piece of work, or the garbage
collector running (issue 9: both showed up in the tails of dispatch's and the timeline's answers,
and neither was measured in a run until now).

Two histograms on the process's registry: ``repair_event_loop_lag_seconds``, how much later than
asked a short sleep of the loop wakes (the time something ran without yielding, or the process
waited for a core), and ``repair_gc_pause_seconds``, each collection by generation.
"""

import asyncio
import gc
import time

from prometheus_client import Histogram

from services.common import metrics
from services.common.supervision import TaskHealth

WATCH_EVERY_S = 0.1
"""The watcher's sleep: the loop's lag is sampled ten times a second, for next to nothing."""
_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

LOOP_LAG = Histogram(
    "repair_event_loop_lag_seconds",
    "How much later than asked the event loop woke from a 0.1 s sleep.",
    ["service"],
    buckets=_BUCKETS,
    registry=metrics.REGISTRY,
)
GC_PAUSE = Histogram(
    "repair_gc_pause_seconds",
    "Garbage collections, by the oldest generation collected.",
    ["service", "generation"],
    buckets=_BUCKETS,
    registry=metrics.REGISTRY,
)


async def watch_loop(health: TaskHealth, every_s: float = WATCH_EVERY_S) -> None:
    """Sleep ``every_s`` again and again; each wake-up's lateness is one observation."""
    health.ok()
    lag = LOOP_LAG.labels(metrics.service())
    while True:
        asked = time.monotonic() + every_s
        await asyncio.sleep(every_s)
        lag.observe(max(0.0, time.monotonic() - asked))


_collection_started = [0.0]


def _on_collection(phase: str, info: dict[str, int]) -> None:
    # CPython calls back at the start and the stop of each collection, never two at once.
    if phase == "start":
        _collection_started[0] = time.perf_counter()
    else:
        took = time.perf_counter() - _collection_started[0]
        GC_PAUSE.labels(metrics.service(), str(info["generation"])).observe(took)


def time_collections() -> None:
    """Time every garbage collection of this process from now on (once, however often called)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)
