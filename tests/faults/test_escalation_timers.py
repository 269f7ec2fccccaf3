"""The ladder's timers fire exactly once: across a kill -9 of dispatch in the middle of a wait,
and with two dispatch instances polling one database.

Orders are dispatched with a stamp chosen so that a rung falls due a few seconds later (due
times come from the events' own stamps), so the scenarios wait seconds, not minutes.
"""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.faults.conftest import SCENARIO_TIMEOUT_S, Faults
from tests.support.desk import Crew, Desk, ago, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCENARIO_TIMEOUT_S)]

NOT_TAKEN_S = 240.0
LEVEL_2_S = 240.0
"""The dispatch service's default delays (the faults stack does not change them)."""


def query(faults: Faults, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(faults.system.database_urls["dispatch"]) as conn:
        return conn.execute(sql.encode(), args).fetchall()


def received_order(desk: Desk, crew: Crew) -> str:
    """An order issued and received in time (rule 1 settled), not yet dispatched."""
    wo = desk.call(ago(1.5))
    desk.issue(wo, ago(1), crew)
    desk.wait_at_dispatch(wo)
    desk.receipt(wo, ago(0.5), crew)
    return wo


def rungs(faults: Faults, wos: list[str]) -> dict[UUID, tuple[Any, ...]]:
    """Every not_taken timer of the orders: id → (order, level, due_at, fired_at, outcome)."""
    rows = query(
        faults,
        """
        SELECT escalation_id, work_order_id, level, due_at, fired_at, outcome
        FROM escalation_timers WHERE rule = 'not_taken' AND work_order_id = ANY(%s)
        """,
        [UUID(wo) for wo in wos],
    )
    return {r[0]: r[1:] for r in rows}


def raised(faults: Faults, wos: list[str]) -> dict[UUID, list[tuple[Any, ...]]]:
    """Per escalation of the orders, every EscalationRaised stored: (raised_at, published_at)."""
    rows = query(
        faults,
        """
        SELECT (e.body -> 'payload' ->> 'escalation_id')::uuid, e.occurred_at, o.published_at
        FROM events e JOIN outbox o USING (event_id)
        WHERE e.event_type = 'EscalationRaised' AND e.work_order_id = ANY(%s)
        """,
        [UUID(wo) for wo in wos],
    )
    found: dict[UUID, list[tuple[Any, ...]]] = {}
    for escalation_id, raised_at, published_at in rows:
        found.setdefault(escalation_id, []).append((raised_at, published_at))
    return found


def test_a_rung_due_while_dispatch_is_killed_is_raised_once_at_its_time(faults: Faults) -> None:
    desk = faults.desk
    crew = faults.crews[0]
    dispatch = faults.process("dispatch")
    wo = received_order(desk, crew)
    dispatched_at = datetime.now(UTC) - timedelta(seconds=NOT_TAKEN_S - 8)
    desk.dispatch(wo, dispatched_at, crew)
    due = dispatched_at + timedelta(seconds=NOT_TAKEN_S)
    [(level_1, (_, _, due_at, fired_at, _))] = [
        (eid, row) for eid, row in rungs(faults, [wo]).items() if row[1] == 1
    ]
    assert (due_at, fired_at) == (due, None)
    dispatch.kill9()  # mid-wait: the rung is due in a few seconds
    killed_at = datetime.now(UTC)
    assert killed_at < due, "the kill came too late to be in the middle of the wait"
    assert raised(faults, [wo]) == {}
    dispatch.start().wait_ready()

    def published() -> list[tuple[Any, ...]] | None:
        found = raised(faults, [wo]).get(level_1, [])
        return found if found and all(p is not None for _, p in found) else None

    [(raised_at, _)] = wait_for("level 1 raised and published after the restart", published, 60)
    assert raised_at >= due, f"raised at {raised_at}, before its due time {due}"
    _, _, _, fired_at, outcome = rungs(faults, [wo])[level_1]
    assert (fired_at is not None, outcome) == (True, "raised")
    # The task goes on polling after the raise (a later order's rung is raised too), and the
    # fired rung is never taken again.
    later = received_order(desk, crew)
    desk.dispatch(later, datetime.now(UTC) - timedelta(seconds=NOT_TAKEN_S - 1), crew)
    wait_for("a later rung raised by the restarted dispatch", lambda: raised(faults, [later]), 30)
    assert len(raised(faults, [wo])[level_1]) == 1
    print(
        f"\n[escalations] killed {(due - killed_at).total_seconds():.1f} s before due; "
        f"raised {(raised_at - due).total_seconds():.1f} s after due"
    )


def test_two_dispatch_instances_on_one_database_raise_each_due_rung_once(faults: Faults) -> None:
    first = faults.process("dispatch")
    second = faults.stack.add("dispatch-2", "dispatch", faults.system.database_urls["dispatch"])
    second.wait_ready()
    try:
        desks = [
            faults.desk,
            Desk(
                dataclasses.replace(
                    faults.system, urls={**faults.system.urls, "dispatch": second.url}
                ),
                faults.http,
            ),
        ]
        wos: list[str] = []
        expected_due: dict[tuple[str, int], datetime] = {}
        for i in range(8):
            desk = desks[i % 2]  # each instance records half of the dispatches
            crew = faults.crews[i % len(faults.crews)]
            wo = received_order(desk, crew)
            # Even orders: level 1 falls due in 3..10 s. Odd ones: level 1 is long overdue and
            # level 2 falls due in 3..10 s. Both instances poll meanwhile.
            ahead = timedelta(seconds=3 + i)
            age = timedelta(seconds=NOT_TAKEN_S + (LEVEL_2_S if i % 2 else 0)) - ahead
            dispatched_at = datetime.now(UTC) - age
            desk.dispatch(wo, dispatched_at, crew)
            wos.append(wo)
            expected_due[(wo, 1)] = dispatched_at + timedelta(seconds=NOT_TAKEN_S)
            if i % 2:
                expected_due[(wo, 2)] = expected_due[(wo, 1)] + timedelta(seconds=LEVEL_2_S)
        assert first.alive()
        assert second.alive()

        def all_published() -> dict[UUID, list[tuple[Any, ...]]] | None:
            found = raised(faults, wos)
            done = len(found) == len(expected_due) and all(
                p is not None for stored in found.values() for _, p in stored
            )
            return found if done else None

        found = wait_for(f"{len(expected_due)} rungs raised and published", all_published, 90)
        timers = rungs(faults, wos)
        by_rung = {(str(row[0]), row[1]): (eid, row) for eid, row in timers.items()}
        for (wo, level), due in expected_due.items():
            eid, (_, _, due_at, fired_at, outcome) = by_rung[(wo, level)]
            assert (due_at, outcome) == (due, "raised"), (wo, level)
            assert fired_at is not None
            [(raised_at, _)] = found[eid]  # exactly one EscalationRaised per rung
            assert raised_at >= due
        # The even orders' level 2 is minutes away: not fired by either instance.
        waiting = [row for row in timers.values() if row[4] is None]
        assert sorted(str(row[0]) for row in waiting) == sorted(wos[0::2])
        assert all(row[1] == 2 for row in waiting)
        rows = query(
            faults,
            "SELECT count(*) FROM escalations WHERE work_order_id = ANY(%s)",
            [UUID(wo) for wo in wos],
        )
        assert rows == [(len(expected_due),)]
    finally:
        faults.stack.remove("dispatch-2")
    assert faults.watchdog.exits[faults.exits_seen :] == []
