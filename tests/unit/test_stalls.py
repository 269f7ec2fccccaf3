"""The stall histograms: a loop held without yielding, and a garbage collection, are measured."""

import asyncio
import contextlib
import gc
import time

from services.common import metrics, stalls
from services.common.supervision import TaskHealth, TaskState


def _sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, {"service": metrics.service(), **labels})
    return value or 0.0


def _late(more_than: str) -> float:
    """Wake-ups observed later than ``more_than`` seconds."""
    count = _sample("repair_event_loop_lag_seconds_count")
    return count - _sample("repair_event_loop_lag_seconds_bucket", le=more_than)


async def test_a_loop_held_without_yielding_is_one_late_wake_up() -> None:
    health = TaskHealth("loop_watch")
    watcher = asyncio.create_task(stalls.watch_loop(health, every_s=0.02))
    await asyncio.sleep(0.1)  # the watcher sleeps and wakes on time a few times
    count, late = _sample("repair_event_loop_lag_seconds_count"), _late("0.25")
    time.sleep(0.3)  # noqa: ASYNC251  # the point: a piece of work that never yields
    await asyncio.sleep(0.1)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    assert health.state is TaskState.OK
    assert _sample("repair_event_loop_lag_seconds_count") > count + 1  # it went on watching
    assert _late("0.25") == late + 1  # the one wake-up behind the block, about 0.28 s late


def test_every_collection_is_timed_by_its_generation_once() -> None:
    stalls.time_collections()
    stalls.time_collections()
    assert gc.callbacks.count(stalls._on_collection) == 1
    before = _sample("repair_gc_pause_seconds_count", generation="2")
    gc.collect()
    assert _sample("repair_gc_pause_seconds_count", generation="2") == before + 1
    assert _sample("repair_gc_pause_seconds_sum", generation="2") > 0
