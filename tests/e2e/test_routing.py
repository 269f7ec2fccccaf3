"""Routing rules: dispatch defines them, intake hears of them and routes the orders the duty chief
issues without naming a repair center."""

from uuid import uuid4

import pytest

from tests.support.desk import Crew, Desk, Json, ago, wait_for

pytestmark = pytest.mark.e2e


def rule_body(crew: Crew, district: str, **conditions: object) -> Json:
    return {
        "district": district,
        "department": "Community service station",
        "trade": "service_drop_meter",
        "repair_center_id": crew.repair_center_id,
        **conditions,
    }


def define_rule(desk: Desk, rule_id: str, body: Json) -> Json:
    """Define the rule at dispatch and wait until intake knows this very definition."""
    answer = desk.ok(desk.put("dispatch", f"/v1/routing-rules/{rule_id}", body))

    def known() -> bool:
        items = desk.ok(desk.get("intake", "/v1/routing-rules"))["items"]
        return answer in items

    wait_for(f"intake to hear of rule {rule_id} as defined", known)
    return answer


def call_in(desk: Desk, district: str, category: str = "meter", voltage_kv: float = 0.22) -> str:
    body = {
        "call_id": f"call-{uuid4().hex}",
        "ended_at": ago(3).isoformat(),
        "caller": {"name": "Li Na", "phone": "+86 10 8888 0000"},
        "address": "5 Chaoyangmen Inner St",
        "fault": {"category": category, "description": "meter box burnt", "voltage_kv": voltage_kv},
        "agent_id": "agent-7",
        "district": district,
    }
    work_order_id: str = desk.ok(desk.post("intake", "/v1/calls", body))["work_order_id"]
    return work_order_id


def routed_issue(issued_at: str, chief: str = "chief-1") -> Json:
    """An issue that names no repair center: the rules choose."""
    return {"issued_at": issued_at, "duty_chief_id": chief}


def test_dispatch_keeps_routing_rules_and_refuses_one_of_an_unknown_repair_center(
    desk: Desk,
) -> None:
    crew = desk.crew(co_located=False)
    rule_id = f"rr-{uuid4().hex[:8]}"
    body = rule_body(crew, "somewhere", priority=30, fault_category="meter", voltage_max_kv=1)
    created = desk.put("dispatch", f"/v1/routing-rules/{rule_id}", body)
    assert created.status_code == 201, created.text
    expected = {
        "rule_id": rule_id,
        "retired": False,
        "voltage_min_kv": None,
        **body,
    }
    assert created.json() == expected
    assert desk.ok(desk.get("dispatch", f"/v1/routing-rules/{rule_id}")) == expected
    assert expected in desk.ok(desk.get("dispatch", "/v1/routing-rules"))["items"]
    assert desk.put("dispatch", f"/v1/routing-rules/{rule_id}", body).status_code == 200
    retired = desk.put("dispatch", f"/v1/routing-rules/{rule_id}", body | {"retired": True})
    assert retired.status_code == 200
    history = desk.ok(desk.get("dispatch", f"/v1/routing-rules/{rule_id}/history"))["items"]
    assert [h["definition"]["retired"] for h in history] == [False, True]

    before = desk.events_recorded("dispatch")
    stray = f"rr-{uuid4().hex[:8]}"
    unknown = desk.put(
        "dispatch", f"/v1/routing-rules/{stray}", body | {"repair_center_id": "rc-nowhere"}
    )
    assert unknown.status_code == 422, unknown.text
    [where] = unknown.json()["detail"]
    assert where["loc"] == ["body", "repair_center_id"]
    assert "rc-nowhere" in where["msg"]
    bad = desk.put("dispatch", f"/v1/routing-rules/{stray}", body | {"priority": -1})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "priority"]
    assert desk.get("dispatch", f"/v1/routing-rules/{stray}").status_code == 404
    assert desk.events_recorded("dispatch") == before


def test_an_order_issued_without_a_repair_center_goes_where_the_rules_say(desk: Desk) -> None:
    tag = uuid4().hex[:8]
    district = f"district-{tag}"
    crew, other = desk.crew(co_located=False), desk.crew(co_located=False)
    # Two rules match a meter fault there: the lower priority wins.
    define_rule(desk, f"rr-{tag}-broad", rule_body(other, district, priority=90))
    define_rule(
        desk,
        f"rr-{tag}-meters",
        rule_body(crew, district, priority=10, fault_category="meter", voltage_max_kv=1),
    )
    wo = call_in(desk, district)
    body = routed_issue(ago(2).isoformat())
    first = desk.post("intake", f"/v1/work-orders/{wo}/issue", body)
    assert first.status_code == 201, first.text
    assert first.headers["Idempotent-Replay"] == "false"

    seen = desk.ok(desk.get("intake", f"/v1/work-orders/{wo}"))
    assert {k: seen[k] for k in ("repair_center_id", "department", "trade", "routing_rule_id")} == {
        "repair_center_id": crew.repair_center_id,
        "department": "Community service station",
        "trade": "service_drop_meter",
        "routing_rule_id": f"rr-{tag}-meters",
    }
    assert desk.wait_at_dispatch(wo)["repair_center_id"] == crew.repair_center_id

    def issued_on_timeline() -> Json | None:
        response = desk.get("timeline", f"/v1/work-orders/{wo}/events")
        if response.status_code != 200:
            return None
        issued = [e for e in response.json() if e["event_type"] == "WorkOrderIssued"]
        return issued[0] if issued else None

    on_timeline = wait_for("the routed issue on the timeline", issued_on_timeline)
    assert on_timeline["event_id"] == first.json()["event_id"]
    assert on_timeline["body"]["payload"] == {
        "duty_chief_id": "chief-1",
        "repair_center_id": crew.repair_center_id,
        "department": "Community service station",
        "trade": "service_drop_meter",
        "routing_rule_id": f"rr-{tag}-meters",
    }

    # The rule is retired and another takes over; the retry still answers the first issue.
    define_rule(
        desk,
        f"rr-{tag}-meters",
        rule_body(crew, district, priority=10, fault_category="meter", retired=True),
    )
    before = desk.events_recorded("intake")
    again = desk.post("intake", f"/v1/work-orders/{wo}/issue", body)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    other_chief = desk.post(
        "intake", f"/v1/work-orders/{wo}/issue", routed_issue(body["issued_at"], "c-2")
    )
    assert other_chief.status_code == 409, other_chief.text
    assert other_chief.json()["differs"] == ["duty_chief_id"]
    assert other_chief.json()["first"]["routing_rule_id"] == f"rr-{tag}-meters"
    named = desk.post(
        "intake",
        f"/v1/work-orders/{wo}/issue",
        body | {"repair_center_id": crew.repair_center_id},
    )
    assert named.status_code == 409, named.text
    assert "routing_rule_id" in named.json()["differs"]
    assert desk.events_recorded("intake") == before

    # A new order there now goes by the broad rule, the only one left.
    next_wo = call_in(desk, district)
    desk.ok(desk.post("intake", f"/v1/work-orders/{next_wo}/issue", body))
    routed = desk.ok(desk.get("intake", f"/v1/work-orders/{next_wo}"))
    assert (routed["repair_center_id"], routed["routing_rule_id"]) == (
        other.repair_center_id,
        f"rr-{tag}-broad",
    )


def test_an_order_no_rule_matches_is_refused_and_nothing_is_recorded(desk: Desk) -> None:
    tag = uuid4().hex[:8]
    crew = desk.crew(co_located=False)
    define_rule(desk, f"rr-{tag}", rule_body(crew, f"district-{tag}", voltage_min_kv=1))
    wo = call_in(desk, f"district-{tag}", voltage_kv=0.4)  # the rule is for 1 kV and up
    before = desk.events_recorded("intake")
    refused = desk.post("intake", f"/v1/work-orders/{wo}/issue", routed_issue(ago(2).isoformat()))
    assert refused.status_code == 422, refused.text
    [where] = refused.json()["detail"]
    assert where["loc"] == ["body", "repair_center_id"]
    assert "no routing rule matches" in where["msg"]
    assert f"district-{tag}" in where["msg"]
    # department or trade without a repair center: the rules' to choose, so 422 at each.
    half = desk.post(
        "intake",
        f"/v1/work-orders/{wo}/issue",
        routed_issue(ago(2).isoformat()) | {"department": "X", "trade": "t"},
    )
    assert half.status_code == 422, half.text
    assert [d["loc"] for d in half.json()["detail"]] == [["body", "department"], ["body", "trade"]]
    assert desk.events_recorded("intake") == before
    assert desk.ok(desk.get("intake", f"/v1/work-orders/{wo}"))["issued_at"] is None
    # The duty chief names the repair center: the order is issued as chosen.
    issued = desk.post(
        "intake",
        f"/v1/work-orders/{wo}/issue",
        routed_issue(ago(1).isoformat()) | {"repair_center_id": crew.repair_center_id},
    )
    assert issued.status_code == 201, issued.text
    seen = desk.ok(desk.get("intake", f"/v1/work-orders/{wo}"))
    assert (seen["repair_center_id"], seen["routing_rule_id"]) == (crew.repair_center_id, None)
