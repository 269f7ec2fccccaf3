"""Overload: 1.5 times the measured capacity for a minute. Dispatch sheds what it cannot take
(429/503 with Retry-After) instead of queueing it without bound: every answer is 2xx or shed,
none slow, its memory bounded, and it is fast again by itself once the load is over."""

import contextlib
import threading
import time
from uuid import uuid4

import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.load import now_iso
from tests.support.system import ServiceProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

UNITS = 32
"""Vehicles (and clients of the closed loop that measures the capacity)."""
MEASURE_S, WARM_UP_S = 5.0, 1.0
OVERLOAD, OVERLOAD_S = 1.5, 60.0
ORDER_RATE = 1.0
"""Orders walked meanwhile, so that the timeline oracle has something to judge."""
BOUND_S = 10.0
"""No request may take longer than this to be answered, admitted or shed."""
RECOVERY_S, FAST_S = 15.0, 1.0
RSS_SLACK_KB = 150 * 1024
GROWTH_KB = 50 * 1024
"""How much the last third of the run may exceed the middle third's peak (still growing)."""


class RssSampler:
    """VmRSS of a process every half second, in a thread."""

    def __init__(self, process: ServiceProcess, every_s: float = 0.5) -> None:
        self.process = process
        self.every_s = every_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            # Between a death and a restart there is nothing to read; the watchdog says why.
            with contextlib.suppress(OSError, RuntimeError):
                self.samples.append((time.monotonic(), self.process.rss_kb()))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, start: float, end: float) -> int:
        return max((kb for t, kb in self.samples if start <= t <= end), default=0)


def fast_again(faults: Faults, vehicle_id: str, deadline_s: float) -> float | None:
    """Seconds until a normal report is answered 2xx within ``FAST_S`` (None: not in time)."""
    started = time.monotonic()
    url = f"{faults.system.urls['dispatch']}/v1/vehicles/{vehicle_id}/reports"
    while time.monotonic() - started < deadline_s:
        body = {
            "report_id": f"probe-{uuid4().hex}",
            "type": "position",
            "occurred_at": now_iso(),
            "position": {"lat": 39.9, "lon": 116.4},
        }
        sent = time.monotonic()
        try:
            answer = faults.http.post(url, json=body, timeout=FAST_S * 5)
        except Exception:  # a timeout or a reset is just "not yet"
            answer = None
        if answer is not None and answer.is_success and time.monotonic() - sent <= FAST_S:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def test_overload_is_shed_bounded_and_recovers_by_itself(faults: Faults) -> None:
    dispatch = faults.process("dispatch")
    vehicles = faults.vehicles(UNITS)
    [probe] = faults.vehicles(1)  # outside the ledger: the probe's reports are not the load's
    with faults.load(name="overload", timeout_s=BOUND_S + 5, give_up_s=60) as load:
        capacity = load.measure_capacity(vehicles, MEASURE_S, WARM_UP_S)
        rate = OVERLOAD * capacity
        print(f"\n[overload] capacity {capacity:.0f} reports/s; offering {rate:.0f}/s", flush=True)
        baseline_kb = dispatch.rss_kb()
        with RssSampler(dispatch) as rss:
            flood_at = time.monotonic()
            load.start_orders(ORDER_RATE)
            load.start_positions(vehicles, rate, give_up_s=60)
            time.sleep(OVERLOAD_S)
            load.stop_generator("positions")
            stopped_at = time.monotonic()
            recovered_s = fast_again(faults, probe, RECOVERY_S)
        ledger = load.stop(drain_s=60)
    attempts = ledger.attempts
    flood = [a for a in attempts if a.step == "position" and flood_at <= a.at <= stopped_at]
    positions = [r for r in ledger.requests if r.step == "position" and r.attempts]
    offered = [r for r in positions if flood_at <= r.attempts[0].at <= stopped_at]
    odd = [
        a
        for a in attempts
        if a.status is None
        or not (
            200 <= a.status < 300
            or a.status in (429, 503)
            or (a.step == "poll" and a.status == 404)
        )
    ]
    slowest = max(attempts, key=lambda a: a.took_s)
    third = OVERLOAD_S / 3
    middle_kb = rss.peak(flood_at + third, flood_at + 2 * third)
    last_kb = rss.peak(flood_at + 2 * third, stopped_at)
    peak_kb = rss.peak(flood_at, stopped_at + RECOVERY_S)
    summary = faults.check(
        "overload 1.5x capacity for 60 s",
        ledger,
        recovery_s={"fast_again_after_load": recovered_s},
        shed_give_ups_allowed=True,
        extra={
            "capacity_per_s": round(capacity, 1),
            "wanted_per_s": round(rate, 1),
            "started_per_s": round(len(offered) / OVERLOAD_S, 1),
            "skipped_fleet_busy": ledger.skipped["positions"],
            "attempts_per_s": round(len(flood) / OVERLOAD_S, 1),
            "flood_sent": len(offered),
            "flood_http_requests": len(flood),
            "flood_acked": sum(a.status is not None and a.status < 300 for a in flood),
            "flood_acked_per_s": round(
                sum(a.status is not None and a.status < 300 for a in flood) / OVERLOAD_S, 1
            ),
            "flood_shed_429": sum(a.status == 429 for a in flood),
            "flood_shed_503": sum(a.status == 503 for a in flood),
            "flood_no_answer": sum(a.status is None for a in flood),
            "slowest_s": round(slowest.took_s, 3),
            "rss_baseline_mb": baseline_kb // 1024,
            "rss_peak_mb": peak_kb // 1024,
            "rss_middle_third_mb": middle_kb // 1024,
            "rss_last_third_mb": last_kb // 1024,
        },
    )
    faults.assert_holds(summary, logs=("dispatch",))
    assert not odd, f"answers other than 2xx/429/503: {odd[:5]}\n" + faults.log_tails(("dispatch",))
    assert slowest.took_s < BOUND_S, f"a request took {slowest}"
    assert peak_kb < 2 * baseline_kb + RSS_SLACK_KB, (
        f"dispatch grew from {baseline_kb // 1024} MB to {peak_kb // 1024} MB"
    )
    assert last_kb - middle_kb < GROWTH_KB, (
        f"dispatch keeps growing: {middle_kb // 1024} MB then {last_kb // 1024} MB"
    )
    assert recovered_s is not None, (
        f"no request answered 2xx within {FAST_S} s in the {RECOVERY_S} s after the load\n"
        + faults.log_tails(("dispatch",))
    )
