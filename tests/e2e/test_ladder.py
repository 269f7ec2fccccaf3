"""The escalation ladder on the timeline: what dispatch raises, the calls and the closure reach
the auditor's ``GET /v1/work-orders/{id}/escalations``, with both clocks and Kafka coordinates,
each event once, and as it stood at any ``as_of``."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from contracts.topics import ESCALATIONS
from tests.e2e.test_escalations import (
    LEADERS,
    ON_DUTY_PHONE,
    call,
    dispatched,
    spelled,
    staffed_crew,
    stamp,
    wait_open,
)
from tests.support.desk import Desk, Json, ago, wait_for

pytestmark = pytest.mark.e2e


def ladder(desk: Desk, wo: str, **params: str) -> list[Json]:
    items: list[Json] = desk.ok(
        desk.get("timeline", f"/v1/work-orders/{wo}/escalations", **params)
    )["items"]
    return items


def test_a_raised_rung_its_missed_call_and_the_closure_reach_the_timelines_ladder(
    desk: Desk,
) -> None:
    staffed = staffed_crew(desk)
    crew = staffed.crew
    wo, d = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    called_at = datetime.now(UTC).replace(microsecond=0)
    missed = call(
        desk,
        one["escalation_id"],
        {"called_at": spelled(called_at), "phone": ON_DUTY_PHONE, "reached": False, "note": "busy"},
    )
    assert missed.status_code == 201, missed.text
    wait_open(desk, wo, "not_taken", 2, timeout_s=15)

    def both_rungs_and_the_call() -> list[Json] | None:
        items = ladder(desk, wo)
        levels = {(r["rule"], r["level"]): r for r in items}
        first = levels.get(("not_taken", 1))
        ready = first is not None and first["calls"] and ("not_taken", 2) in levels
        return items if ready else None

    items = wait_for("both rungs and the call on the timeline", both_rungs_and_the_call)
    # By due_at: level 1 fell due first. (Rule 1 may have fired too, on the back-dated issue.)
    [first, second] = [r for r in items if r["rule"] == "not_taken"]
    assert (first["escalation_id"], first["level"], first["status"]) == (
        one["escalation_id"],
        1,
        "open",
    )
    assert first["notify"] == "repair_center"
    assert first["repair_center_id"] == crew.repair_center_id
    assert first["crew_id"] == crew.crew_id
    assert first["contacts"] == one["contacts"]
    assert stamp(first["due_at"]) == stamp(d["occurred_at"]) + timedelta(minutes=4)
    assert first["waiting_since_event_id"] == d["event_id"]
    assert first["where"]["topic"] == desk.system.topic(ESCALATIONS.name)
    assert first["where"]["kafka_offset"] >= 0
    [logged] = first["calls"]
    assert stamp(logged["called_at"]) == called_at
    assert logged["event_id"] == missed.json()["event_id"]
    assert (logged["phone"], logged["reached"], logged["note"]) == (ON_DUTY_PHONE, False, "busy")
    assert logged["contact"]["role"] == "crew_on_duty"
    assert logged["source"] == f"repair-center:{crew.repair_center_id}"
    assert stamp(logged["recorded_at"]) >= stamp(first["recorded_at"])
    assert second["level"] == 2
    assert second["contacts"] == [{**leader, "role": "leader"} for leader in LEADERS]
    assert second["calls"] == []

    # As of just before the call was recorded: level 1 without its call, no level 2 yet.
    before_call = stamp(logged["recorded_at"]) - timedelta(microseconds=1)
    earlier = {r["escalation_id"]: r for r in ladder(desk, wo, as_of=spelled(before_call))}
    assert earlier[first["escalation_id"]]["calls"] == []
    assert second["escalation_id"] not in earlier
    before_raise = stamp(first["recorded_at"]) - timedelta(microseconds=1)
    assert first["escalation_id"] not in {
        r["escalation_id"] for r in ladder(desk, wo, as_of=spelled(before_raise))
    }

    accepted = desk.ok(desk.report(crew.vehicle_id, "order_accepted", ago(0), wo))

    def closed() -> list[Json] | None:
        items = [r for r in ladder(desk, wo) if r["rule"] == "not_taken"]
        return items if all(r["status"] == "closed" for r in items) else None

    for rung in wait_for("the rungs closed on the timeline", closed):
        assert rung["close_reason"] == "accepted by the crew"
        assert rung["closed_by_event_id"] == accepted["event_id"]
        assert stamp(rung["closed_at"]) == stamp(accepted["occurred_at"])

    # Each ladder event once on the timeline, and only dispatch's: as many as its outbox holds.
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        produced = {
            str(r[0])
            for r in conn.execute(
                b"SELECT o.event_id FROM outbox o JOIN events e USING (event_id)"
                b" WHERE e.stream_id LIKE 'escalation-%%' AND (e.body->>'work_order_id')::uuid = %s",
                (UUID(wo),),
            ).fetchall()
        }
    with psycopg.connect(desk.system.database_urls["timeline"]) as conn:
        kept = [
            str(r[0])
            for r in conn.execute(
                b"SELECT event_id FROM ladder_events WHERE work_order_id = %s", (UUID(wo),)
            ).fetchall()
        ]
        in_history = conn.execute(
            b"SELECT count(*) FROM received_events WHERE work_order_id = %s"
            b" AND event_type LIKE 'Escalation%%'",
            (UUID(wo),),
        ).fetchone()
    assert sorted(kept) == sorted(produced)
    assert len(produced) >= 5  # two raised, one call, two closed (and rule 1's, if it fired)
    assert in_history == (0,)  # the order's own history (/events) is left as it was


def test_an_order_without_escalations_has_an_empty_ladder_and_an_unknown_one_is_404(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    wo = desk.order(crew, {"A": ago(2), "B": ago(1.5), "C": ago(1)})
    desk.timeline(wo, set("ABC"))
    assert ladder(desk, wo) == []
    unknown = desk.get("timeline", f"/v1/work-orders/{uuid4()}/escalations")
    assert unknown.status_code == 404, unknown.text
    bad = desk.get("timeline", f"/v1/work-orders/{wo}/escalations", as_of="yesterday")
    assert bad.status_code == 422, bad.text
    refused = desk.get(
        "timeline", f"/v1/work-orders/{wo}/escalations", token=desk.system.keys.phone_system
    )
    assert refused.status_code == 403, refused.text
