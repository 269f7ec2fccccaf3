"""Kafka, then PostgreSQL, stopped and started again under a steady load (the local stack only:
we do not restart someone else's cluster). Writes go on while Kafka is away (the outbox takes
them; a service even starts without it), are answered 503 with Retry-After at once while
PostgreSQL is away, and everything catches up by itself; ``/readyz`` says what is unwell."""

import time

import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.load import Attempt
from tests.support.oracle import wait_caught_up

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

ORDER_RATE = 3.0
POSITION_RATE = 2.0
"""Position reports keep dispatch writing while the order walks wait for Kafka."""
BEFORE_S, AFTER_S = 6.0, 6.0
KAFKA_DOWN_S = 10.0
RESTART_WITHOUT_KAFKA_AT_S = 2.0
"""Into the Kafka outage, dispatch is killed and started again: it must come up without Kafka."""
POSTGRES_DOWN_S = 6.0
HUNG_S = 10.0
"""No request may go unanswered longer than this while PostgreSQL is away."""
READY_S = 30.0


def writes_in(attempts: list[Attempt], start: float, end: float) -> list[Attempt]:
    return [a for a in attempts if a.step != "poll" and start <= a.at <= end]


def test_kafka_stopped_and_restarted_mid_stream(faults: Faults) -> None:
    faults.require_restartable()
    timeline = faults.system.urls["timeline"]
    dispatch = faults.process("dispatch")
    vehicles = faults.vehicles(4)
    with faults.load(name="kafka-restart") as load, faults.ready_sampler() as ready:
        load.start_orders(ORDER_RATE)
        load.start_positions(vehicles, POSITION_RATE, give_up_s=60)
        time.sleep(BEFORE_S)
        try:
            faults.infra_script("kafka.sh", "stop")
            down_at = time.monotonic()
            time.sleep(RESTART_WITHOUT_KAFKA_AT_S)
            dispatch.kill9()
            dispatch.start().wait_ready(timeout_s=30)
            dispatch_ready_at = time.monotonic()
            time.sleep(max(0.0, down_at + KAFKA_DOWN_S - time.monotonic()))  # Kafka away
            starting_at = time.monotonic()
        finally:
            faults.infra_script("kafka.sh", "start")
        up_at = time.monotonic()
        caught_up_s = wait_caught_up(
            timeline, load.ledger, until=up_at, timeout_s=45, since=starting_at
        )
        ready_s = faults.all_ready(READY_S)
        time.sleep(AFTER_S)
        ledger = load.stop()
    acked_while_away = {
        service: len(ledger.acked_between(down_at, starting_at, service))
        for service in ("intake", "dispatch")
    }
    acked_by_new_dispatch = len(ledger.acked_between(dispatch_ready_at, starting_at, "dispatch"))
    failed_writes = [
        a
        for a in writes_in(ledger.attempts, down_at, starting_at)
        if (a.status is None or a.status >= 500) and a.service != "dispatch"
    ]
    summary = faults.check(
        "kafka stopped and restarted",
        ledger,
        catch_up_s=60,
        recovery_s={
            "kafka_start": up_at - starting_at,
            "timeline_caught_up_after_kafka_start": caught_up_s,
            "all_ready_after_kafka_up": ready_s,
        },
        extra={
            "kafka_down_s": starting_at - down_at,
            "acked_while_kafka_away": acked_while_away,
            "acked_by_dispatch_started_without_kafka": acked_by_new_dispatch,
            "intake_writes_failed_while_kafka_away": len(failed_writes),
            "kafka_away_during_load_s": [
                round(down_at - ledger.started, 1),
                round(starting_at - ledger.started, 1),
            ],
            "dispatch_restarted_without_kafka_at_s": round(dispatch_ready_at - ledger.started, 1),
            "slowest_write_while_kafka_away": _slowest(
                writes_in(ledger.attempts, down_at, starting_at), ledger.started
            ),
            "readyz_while_kafka_away": ready.between(down_at, starting_at),
        },
    )
    faults.assert_holds(summary)
    assert all(acked_while_away.values()), (
        f"writes were not acknowledged while Kafka was away: {acked_while_away}\n"
        + faults.log_tails()
    )
    assert acked_by_new_dispatch, (
        "dispatch, started while Kafka was away, acknowledged no write before Kafka came back\n"
        + faults.log_tails(("dispatch",))
    )
    assert not failed_writes, (
        f"{len(failed_writes)} intake writes failed while Kafka was away (the outbox should "
        f"take them), e.g. {failed_writes[:3]}\n" + faults.log_tails()
    )
    assert caught_up_s is not None
    assert ready_s is not None, (
        f"/readyz not 200 everywhere {READY_S} s after Kafka came back\n" + faults.log_tails()
    )


def test_postgres_restarted_mid_stream(faults: Faults) -> None:
    faults.require_restartable()
    timeline = faults.system.urls["timeline"]
    vehicles = faults.vehicles(4)
    with (
        faults.load(name="postgres-restart", timeout_s=HUNG_S + 5) as load,
        faults.ready_sampler() as ready,
    ):
        load.start_orders(ORDER_RATE)
        load.start_positions(vehicles, POSITION_RATE, give_up_s=60)
        time.sleep(BEFORE_S)
        try:
            faults.infra_script("postgres.sh", "stop")
            down_at = time.monotonic()
            time.sleep(POSTGRES_DOWN_S)  # PostgreSQL away
            starting_at = time.monotonic()
        finally:
            faults.infra_script("postgres.sh", "start")
        up_at = time.monotonic()
        caught_up_s = wait_caught_up(
            timeline, load.ledger, until=up_at, timeout_s=45, since=starting_at
        )
        ready_s = faults.all_ready(READY_S)
        time.sleep(AFTER_S)
        ledger = load.stop()
    attempts = ledger.attempts
    unavailable = [a for a in attempts if a.status == 503]
    while_away = writes_in(attempts, down_at, starting_at)
    readiness = ready.between(down_at, starting_at)
    summary = faults.check(
        "postgres restarted",
        ledger,
        catch_up_s=60,
        recovery_s={
            "postgres_start": up_at - starting_at,
            "first_intake_ack_after_postgres_up": ledger.first_ack_after(up_at, "intake"),
            "first_dispatch_ack_after_postgres_up": ledger.first_ack_after(up_at, "dispatch"),
            "timeline_caught_up_after_postgres_start": caught_up_s,
            "all_ready_after_postgres_up": ready_s,
        },
        extra={
            "postgres_down_s": starting_at - down_at,
            "writes_while_away": len(while_away),
            "answers_while_away": _statuses(while_away),
            "503s": len(unavailable),
            "503s_without_retry_after": sum(a.retry_after is None for a in unavailable),
            "slowest_503_s": round(max((a.took_s for a in unavailable), default=0.0), 3),
            "readyz_while_postgres_away": readiness,
        },
    )
    faults.assert_holds(summary)
    assert unavailable, "no write was answered 503 while PostgreSQL was away\n" + faults.log_tails()
    assert all(a.retry_after is not None for a in unavailable), "a 503 without Retry-After"
    slowest = max(attempts, key=lambda a: a.took_s)
    assert slowest.took_s < HUNG_S, f"a request hung: {slowest}\n" + faults.log_tails()
    server_errors = [a for a in attempts if a.status is not None and a.status >= 500]
    assert {a.status for a in server_errors} <= {503}, (
        f"5xx other than 503: {[a for a in server_errors if a.status != 503][:5]}\n"
        + faults.log_tails()
    )
    blind = [
        service
        for service, seen in readiness.items()
        if not any(k.startswith("503") and "database" in k for k in seen)
    ]
    assert not blind, f"/readyz never named the database while PostgreSQL was away: {readiness}"
    assert caught_up_s is not None
    assert ready_s is not None, (
        f"/readyz not 200 everywhere {READY_S} s after PostgreSQL came back\n" + faults.log_tails()
    )


def _statuses(attempts: list[Attempt]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in attempts:
        key = str(a.status) if a.status is not None else (a.error or "none")
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _slowest(attempts: list[Attempt], since: float) -> str | None:
    if not attempts:
        return None
    a = max(attempts, key=lambda a: a.took_s)
    return f"{a.step} to {a.service}: {a.status or a.error} after {a.took_s:.2f} s, at {a.at - since:.1f} s"
