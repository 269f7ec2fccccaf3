"""The same report id posted at once from 10 connections, over and over under a steady load:
one event each time, and every copy answered 2xx with that event's id."""

import time

import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

RATE = 2.0
COPIES = 10
LOAD_S = 15.0


def test_the_same_report_from_ten_connections_is_one_event(faults: Faults) -> None:
    with faults.load(name="ten-connections", burst=COPIES) as load:
        load.start_orders(RATE)
        time.sleep(LOAD_S)
        ledger = load.stop()
    bursts = [r for r in ledger.requests if r.copies]
    answers = [a.status for r in bursts for c in r.copies for a in c.attempts]
    new = [sum(c.replay == "false" for c in r.copies) for r in bursts]
    split = [r for r in bursts if len({c.event_id for c in r.copies}) != 1]
    # All copies in flight at once: the last one left before the first one was answered.
    together = [
        max(c.attempts[0].at for c in r.copies)
        < min(c.attempts[0].at + c.attempts[0].took_s for c in r.copies)
        for r in bursts
        if all(c.attempts for c in r.copies)
    ]
    summary = faults.check(
        "same report id from 10 connections",
        ledger,
        extra={
            "bursts": len(bursts),
            "copies_answered": {str(s): answers.count(s) for s in sorted(set(answers), key=str)},
            "bursts_with_one_new_answer": new.count(1),
            "bursts_with_split_answers": len(split),
            "bursts_all_in_flight_at_once": sum(together),
        },
    )
    faults.assert_holds(summary)
    assert bursts, "no burst was posted"
    assert any(together), "the copies of a burst were never in flight at the same time"
    assert all(s is not None and 200 <= s < 300 for s in answers), (
        f"copies answered {summary.extra['copies_answered']}, not all 2xx\n" + faults.log_tails()
    )
    assert not split, f"copies of one report got different event ids: {split[0].copies}"
    assert new == [1] * len(bursts), (
        "each burst should have exactly one answer that is not a replay; got "
        f"{new} (Idempotent-Replay: false)"
    )
