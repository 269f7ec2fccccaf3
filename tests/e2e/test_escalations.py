"""The escalation ladder (rules 1 and 2) through the running services: raised once when a wait
runs out, naming whom to phone; a missed call brings the leaders in; the hand-over closes it.

No test waits four minutes: the orders are stamped in the past, and due times come from the
events' own stamps, so a rung is due as soon as its event reaches dispatch.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from tests.support.desk import Crew, Desk, Json, ago, wait_for

pytestmark = pytest.mark.e2e

CENTER_PHONE = "+86 10 6400 0001"
ON_DUTY_PHONE = "+86 10 6400 0003"
LEADERS = [
    {"name": "Wang Qiang", "phone": "+86 10 6400 0004"},
    {"name": "Zhao Min", "phone": "+86 10 6400 0005"},
]


@dataclass(frozen=True)
class Staffed:
    crew: Crew
    center_name: str
    crew_name: str


def staffed_crew(desk: Desk) -> Staffed:
    """A repair center, a crew with its own on-duty phone and two leaders, and a vehicle."""
    tag = uuid4().hex[:8]
    crew = Crew(f"rc-{tag}", f"crew-{tag}", f"veh-{tag}")
    center_name, crew_name = f"Repair center {tag}", f"Crew {tag}"
    desk.ok(
        desk.put(
            "dispatch",
            f"/v1/repair-centers/{crew.repair_center_id}",
            {"name": center_name, "phone": CENTER_PHONE},
        )
    )
    desk.ok(
        desk.put(
            "dispatch",
            f"/v1/crews/{crew.crew_id}",
            {
                "repair_center_id": crew.repair_center_id,
                "department": "City supply station",
                "trade": "low_voltage",
                "co_located": False,
                "leaders": LEADERS,
                "name": crew_name,
                "phone": ON_DUTY_PHONE,
            },
        )
    )
    desk.ok(desk.put("dispatch", f"/v1/vehicles/{crew.vehicle_id}", {"crew_id": crew.crew_id}))
    return Staffed(crew, center_name, crew_name)


def listed(desk: Desk, wo: str, **params: str) -> list[Json]:
    items: list[Json] = desk.ok(
        desk.get("dispatch", "/v1/escalations", work_order_id=wo, **params)
    )["items"]
    return items


def rung(items: list[Json], rule: str, level: int) -> Json | None:
    return next((e for e in items if e["rule"] == rule and e["level"] == level), None)


def wait_open(desk: Desk, wo: str, rule: str, level: int, timeout_s: float = 30.0) -> Json:
    found: Json = wait_for(
        f"{rule} level {level} of {wo} to be raised",
        lambda: rung(listed(desk, wo, open="true"), rule, level),
        timeout_s,
    )
    return found


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def spelled(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def query(desk: Desk, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(desk.system.database_urls["dispatch"]) as conn:
        return conn.execute(sql.encode(), args).fetchall()


def stream_events(desk: Desk, escalation_id: str, event_type: str) -> list[Json]:
    """The escalation's events of one type in dispatch's store, each with its outbox row."""
    rows = query(
        desk,
        """
        SELECT e.body FROM events e JOIN outbox o USING (event_id)
        WHERE e.stream_id = %s AND e.event_type = %s ORDER BY e.version
        """,
        f"escalation-{escalation_id}",
        event_type,
    )
    return [row[0] for row in rows]


def timer(desk: Desk, escalation_id: str) -> tuple[Any, ...] | None:
    """(due_at, fired_at, outcome) of a rung's timer."""
    rows = query(
        desk,
        "SELECT due_at, fired_at, outcome FROM escalation_timers WHERE escalation_id = %s",
        UUID(escalation_id),
    )
    return rows[0] if rows else None


def timers_of(desk: Desk, wo: str) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows = query(
        desk,
        """
        SELECT rule, level, escalation_id, due_at, fired_at, outcome FROM escalation_timers
        WHERE work_order_id = %s
        """,
        UUID(wo),
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def dispatched(desk: Desk, crew: Crew, minutes_ago: float = 5.0) -> tuple[str, Json]:
    """An order received in time and dispatched ``minutes_ago``; its id and D's answer."""
    wo = desk.call(ago(minutes_ago + 1.5))
    desk.issue(wo, ago(minutes_ago + 1), crew)
    desk.wait_at_dispatch(wo)
    desk.receipt(wo, ago(minutes_ago + 0.5), crew)
    return wo, desk.dispatch(wo, ago(minutes_ago), crew)


def call(desk: Desk, escalation_id: str, body: Json) -> Any:
    return desk.post("dispatch", f"/v1/escalations/{escalation_id}/calls", body)


def test_rule_1_is_raised_once_for_a_late_issue_and_closed_by_the_receipt(desk: Desk) -> None:
    staffed = staffed_crew(desk)
    crew = staffed.crew
    issued_at = ago(5)
    wo = desk.call(ago(6))
    desk.issue(wo, issued_at, crew)
    desk.wait_at_dispatch(wo)
    escalation = wait_open(desk, wo, "not_received", 1)
    assert escalation["notify"] == "customer_service_center"
    assert escalation["repair_center_id"] == crew.repair_center_id
    assert escalation["contacts"] == [
        {"name": staffed.center_name, "phone": CENTER_PHONE, "role": "repair_center"}
    ]
    assert stamp(escalation["due_at"]) == issued_at + timedelta(minutes=4)
    assert stamp(escalation["raised_at"]) >= stamp(escalation["due_at"])
    assert escalation["closed_at"] is None
    assert escalation["calls"] == []
    # Already overdue when it reached dispatch: raised within seconds of being consumed.
    [(issue_id, consumed_at)] = query(
        desk,
        "SELECT event_id, received_at FROM received_events WHERE work_order_id = %s "
        "AND event_type = 'WorkOrderIssued'",
        UUID(wo),
    )
    assert stamp(escalation["raised_at"]) - consumed_at < timedelta(seconds=10)
    assert escalation["waiting_since_event_id"] == str(issue_id)
    eid = escalation["escalation_id"]
    fired = timer(desk, eid)
    assert fired is not None
    assert fired[1] is not None
    assert fired[2] == "raised"

    received = desk.receipt(wo, ago(0), crew)
    assert listed(desk, wo, open="true") == []
    [closed] = listed(desk, wo, open="false")
    assert closed["escalation_id"] == eid
    assert stamp(closed["closed_at"]) == stamp(received["occurred_at"])
    assert closed["close_reason"] == "received by the repair center"
    assert closed["closed_by_event_id"] == received["event_id"]
    assert listed(desk, wo) == [closed]  # no `open`: all of them
    [raised] = stream_events(desk, eid, "EscalationRaised")
    assert raised["payload"]["escalation_id"] == eid
    assert raised["causation_id"] == str(issue_id)
    [closing] = stream_events(desk, eid, "EscalationClosed")
    assert closing["payload"] == {
        "escalation_id": eid,
        "closed_by_event_id": received["event_id"],
        "reason": "received by the repair center",
    }
    assert closing["causation_id"] == received["event_id"]


def test_a_receipt_in_time_settles_rule_1_and_raises_nothing(desk: Desk) -> None:
    crew = staffed_crew(desk).crew
    wo = desk.call(ago(2))
    issued_at = ago(1)
    desk.issue(wo, issued_at, crew)
    desk.wait_at_dispatch(wo)
    [((rule, level), (_, due_at, fired_at, outcome))] = timers_of(desk, wo).items()
    assert (rule, level, fired_at, outcome) == ("not_received", 1, None, None)
    assert due_at == issued_at + timedelta(minutes=4)
    desk.receipt(wo, ago(0), crew)
    [(_, _, fired_at, outcome)] = timers_of(desk, wo).values()
    assert fired_at is not None
    assert outcome == "not needed: received by the repair center"
    assert listed(desk, wo) == []


def test_rule_2_names_the_on_duty_phone_a_missed_call_brings_in_the_leaders_and_f_closes_both(
    desk: Desk,
) -> None:
    staffed = staffed_crew(desk)
    crew = staffed.crew
    wo, d = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    assert one["notify"] == "repair_center"
    assert one["crew_id"] == crew.crew_id
    assert one["contacts"] == [
        {"name": f"{staffed.crew_name}, on duty", "phone": ON_DUTY_PHONE, "role": "crew_on_duty"}
    ]
    assert stamp(one["due_at"]) == stamp(d["occurred_at"]) + timedelta(minutes=4)
    assert one["waiting_since_event_id"] == d["event_id"]
    # Level 2 falls due 4 minutes after level 1: not yet.
    two_timer = timers_of(desk, wo)[("not_taken", 2)]
    assert two_timer[1] == stamp(d["occurred_at"]) + timedelta(minutes=8)
    assert two_timer[2] is None
    assert rung(listed(desk, wo), "not_taken", 2) is None

    called_at = datetime.now(UTC)
    missed = call(
        desk,
        one["escalation_id"],
        {
            "called_at": spelled(called_at),
            "phone": ON_DUTY_PHONE,
            "reached": False,
            "note": "no answer",
        },
    )
    assert missed.status_code == 201, missed.text
    assert missed.headers["Idempotent-Replay"] == "false"
    answer = missed.json()
    assert answer["reached"] is False
    assert stamp(answer["level_2_due_at"]) <= datetime.now(UTC)
    two = wait_open(desk, wo, "not_taken", 2, timeout_s=15)
    assert two["contacts"] == [{**leader, "role": "leader"} for leader in LEADERS]
    assert stamp(two["due_at"]) == stamp(answer["level_2_due_at"])
    [logged] = rung(listed(desk, wo), "not_taken", 1)["calls"]  # type: ignore[index]
    assert (logged["phone"], logged["reached"], logged["note"], logged["named"]) == (
        ON_DUTY_PHONE,
        False,
        "no answer",
        True,
    )
    assert stamp(logged["called_at"]) == called_at

    accepted = desk.ok(desk.report(crew.vehicle_id, "order_accepted", ago(0), wo))
    assert [e for e in listed(desk, wo, open="true") if e["rule"] == "not_taken"] == []
    for escalation in (one, two):
        eid = escalation["escalation_id"]
        [closed] = [e for e in listed(desk, wo) if e["escalation_id"] == eid]
        assert closed["close_reason"] == "accepted by the crew"
        assert closed["closed_by_event_id"] == accepted["event_id"]
        assert len(stream_events(desk, eid, "EscalationRaised")) == 1
        assert len(stream_events(desk, eid, "EscalationClosed")) == 1
    [recorded_call] = stream_events(desk, one["escalation_id"], "EscalationCallRecorded")
    assert recorded_call["payload"]["reached"] is False
    assert recorded_call["source"] == f"repair-center:{crew.repair_center_id}"


def test_the_order_reaching_the_crew_closes_level_1_and_level_2_is_never_raised(
    desk: Desk,
) -> None:
    crew = staffed_crew(desk).crew
    wo, _ = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    reached = desk.ok(desk.report(crew.vehicle_id, "order_received", ago(0), wo))
    [closed] = [e for e in listed(desk, wo) if e["rule"] == "not_taken"]
    assert (closed["escalation_id"], closed["close_reason"]) == (
        one["escalation_id"],
        "reached the crew",
    )
    assert closed["closed_by_event_id"] == reached["event_id"]
    level_2 = timers_of(desk, wo)[("not_taken", 2)]
    assert level_2[2] is not None
    assert level_2[3] == "not needed: reached the crew"


def test_a_recall_closes_the_rungs_of_the_recalled_dispatch(desk: Desk) -> None:
    crew = staffed_crew(desk).crew
    wo, d = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    recall = desk.ok(
        desk.post(
            "dispatch",
            f"/v1/work-orders/{wo}/recall",
            {"recalled_at": spelled(ago(0)), "reason": "not our trade", "requested_by": "d-1"},
        )
    )
    [closed] = [e for e in listed(desk, wo) if e["escalation_id"] == one["escalation_id"]]
    assert (closed["close_reason"], closed["closed_by_event_id"]) == (
        "recalled",
        recall["event_id"],
    )
    assert timers_of(desk, wo)[("not_taken", 2)][3] == "not needed: recalled"
    assert d["event_id"] == one["waiting_since_event_id"]


def test_a_call_posted_again_replays_and_another_body_under_its_key_is_409(desk: Desk) -> None:
    crew = staffed_crew(desk).crew
    wo, _ = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    eid = one["escalation_id"]
    called_at = ago(0)
    body = {"called_at": spelled(called_at), "phone": ON_DUTY_PHONE, "reached": True}
    first = call(desk, eid, body)
    assert first.status_code == 201, first.text
    assert first.json()["level_2_due_at"] is None  # reached: level 2 keeps its time
    beijing = called_at.astimezone(timezone(timedelta(hours=8))).isoformat()
    again = [call(desk, eid, body), call(desk, eid, {**body, "called_at": beijing})]
    assert [a.status_code for a in again] == [201, 201]
    assert [a.headers["Idempotent-Replay"] for a in again] == ["true", "true"]
    assert again[0].json() == again[1].json() == first.json()
    other = call(desk, eid, {**body, "reached": False})
    assert other.status_code == 409, other.text
    refusal = other.json()
    assert refusal["differs"] == ["reached"]
    assert refusal["first"]["reached"] is True
    assert len(stream_events(desk, eid, "EscalationCallRecorded")) == 1
    [shown] = [e for e in listed(desk, wo) if e["escalation_id"] == eid]
    assert len(shown["calls"]) == 1
    level_2 = timers_of(desk, wo)[("not_taken", 2)]
    assert level_2[2] is None  # the refused missed call brought nothing forward
    # A number the escalation does not name is taken (and listed as such).
    elsewhere = call(desk, eid, {**body, "phone": "+86 139 0000 0000", "reached": False})
    assert elsewhere.status_code == 201, elsewhere.text
    [shown] = [e for e in listed(desk, wo) if e["escalation_id"] == eid]
    assert [c["named"] for c in shown["calls"]] == [True, False]


def test_bad_input_on_both_endpoints_is_answered_4xx_and_changes_nothing(desk: Desk) -> None:
    crew = staffed_crew(desk).crew
    wo, _ = dispatched(desk, crew, minutes_ago=5)
    one = wait_open(desk, wo, "not_taken", 1)
    eid = one["escalation_id"]
    raised_at = stamp(one["raised_at"])
    good = {"called_at": spelled(ago(0)), "phone": ON_DUTY_PHONE, "reached": False}

    def state() -> tuple[Any, ...]:
        return (
            query(desk, "SELECT count(*) FROM events WHERE stream_id = %s", f"escalation-{eid}"),
            query(desk, "SELECT count(*) FROM idempotency_keys WHERE scope = 'escalation-call'"),
            timers_of(desk, wo),
            listed(desk, wo),
        )

    before = state()
    cases: list[tuple[str, Any, int, list[str] | None]] = [
        (str(uuid4()), good, 404, None),
        ("not-a-uuid", good, 422, ["path", "escalation_id"]),
        (eid, {**good, "phone": "call me"}, 422, ["body", "phone"]),
        (eid, {k: v for k, v in good.items() if k != "reached"}, 422, ["body", "reached"]),
        (eid, {**good, "reached": "perhaps"}, 422, ["body", "reached"]),
        (eid, {**good, "caller": "me"}, 422, ["body", "caller"]),
        (eid, {**good, "note": ""}, 422, ["body", "note"]),
        (eid, {**good, "called_at": "2026-01-01T08:00:00"}, 422, ["body", "called_at"]),
        (
            eid,
            {**good, "called_at": spelled(raised_at - timedelta(minutes=10))},
            422,
            ["body", "called_at"],
        ),
        (
            eid,
            {**good, "called_at": spelled(datetime.now(UTC) + timedelta(minutes=10))},
            422,
            ["body", "called_at"],
        ),
    ]
    for escalation, body, status, loc in cases:
        answer = call(desk, escalation, body)
        assert answer.status_code == status, (body, answer.text)
        if loc is not None:
            assert [d["loc"] for d in answer.json()["detail"]] == [loc], answer.text
        else:
            assert escalation in answer.json()["detail"]
    before_call = query(
        desk, "SELECT count(*) FROM escalation_calls WHERE escalation_id = %s", UUID(eid)
    )
    for params in ({"open": "perhaps"}, {"work_order_id": "nope"}, {"limit": "0"}):
        answer = desk.get("dispatch", "/v1/escalations", **params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"][0] == "query"
    assert state() == before
    assert before_call == [(0,)]
    # A refusal burns no key: the good call goes through afterwards, once.
    assert call(desk, eid, good).status_code == 201
