"""The routing core: which rule routes a fault, and the issue the duty chief leaves to the rules."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import CallEnded, Fault, RoutingRuleDefined, WorkOrderIssuedPayload
from contracts.reference import RoutingRuleDefinedPayload
from domain.errors import AlreadyRecorded, InvalidReference, NotFound
from domain.orders import OrderState, decide_issue, open_work_order
from domain.routing import decide_routed_issue, latest_definitions, matches, route
from tests.unit.factories import CALL

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TOL = timedelta(hours=1)
STORY = UUID("00000000-0000-4000-8000-000000000001")
LV = Fault(category="outage", description="dark", voltage_kv=0.4)


def rule(
    rule_id: str,
    *,
    at: float = 0,
    event_id: UUID | None = None,
    priority: int = 100,
    retired: bool = False,
    fault_category: str | None = None,
    district: str | None = None,
    voltage_min_kv: float | None = None,
    voltage_max_kv: float | None = None,
    repair_center_id: str = "rc-1",
) -> RoutingRuleDefined:
    """A definition of ``rule_id`` recorded ``at`` minutes after T0."""
    stamp = T0 + timedelta(minutes=at)
    return RoutingRuleDefined(
        event_id=event_id or uuid4(),
        occurred_at=stamp,
        recorded_at=stamp,
        source="reference-data",
        correlation_id=STORY,
        payload=RoutingRuleDefinedPayload(
            rule_id=rule_id,
            priority=priority,
            retired=retired,
            fault_category=fault_category,
            district=district,
            voltage_min_kv=voltage_min_kv,
            voltage_max_kv=voltage_max_kv,
            department=f"department of {rule_id}",
            trade="low_voltage",
            repair_center_id=repair_center_id,
        ),
    )


def chosen(rules: list[RoutingRuleDefined], fault: Fault = LV, district: str | None = "dc") -> str:
    routed = route(rules, fault, district)
    return "none" if routed is None else routed.rule_id


def test_an_absent_condition_matches_anything_and_a_stated_one_must_hold() -> None:
    assert chosen([rule("any")]) == "any"
    assert chosen([rule("cat", fault_category="outage")]) == "cat"
    assert chosen([rule("cat", fault_category="meter")]) == "none"
    assert chosen([rule("here", district="dc")]) == "here"
    assert chosen([rule("there", district="xc")]) == "none"
    # A condition on what the call did not say does not hold.
    assert chosen([rule("here", district="dc")], district=None) == "none"
    no_voltage = Fault(category="outage", description="dark")
    assert chosen([rule("lv", voltage_max_kv=1)], fault=no_voltage) == "none"


def test_the_voltage_range_is_inclusive_at_both_ends() -> None:
    tenkv = Fault(category="outage", description="feeder", voltage_kv=10)
    assert chosen([rule("r", voltage_min_kv=10, voltage_max_kv=10)], fault=tenkv) == "r"
    assert chosen([rule("r", voltage_min_kv=1)], fault=tenkv) == "r"
    assert chosen([rule("r", voltage_max_kv=9.9)], fault=tenkv) == "none"
    assert chosen([rule("r", voltage_min_kv=10.1)], fault=tenkv) == "none"
    every = rule(
        "all", fault_category="outage", district="dc", voltage_min_kv=0.2, voltage_max_kv=1
    )
    assert matches(every.payload, LV, "dc")
    assert not matches(every.payload, LV, "xc")


def test_lowest_priority_wins_then_the_rule_id() -> None:
    rules = [rule("b", priority=5), rule("a", priority=7), rule("c", priority=5)]
    assert chosen(rules) == "b"
    assert chosen([rule("z", priority=1), *rules]) == "z"


def test_retired_rules_never_match() -> None:
    assert chosen([rule("old", priority=1, retired=True), rule("new", priority=2)]) == "new"
    assert chosen([rule("old", retired=True)]) == "none"


def test_only_the_latest_definition_of_a_rule_counts() -> None:
    first = rule("r", at=0, district="xc")
    changed = rule("r", at=5, district="dc")
    assert chosen([changed, first]) == "r"
    assert chosen([rule("r", at=0, district="dc"), rule("r", at=5, district="xc")]) == "none"
    retired_later = rule("r", at=9, district="dc", retired=True)
    assert chosen([first, changed, retired_later]) == "none"
    revived = rule("r", at=12, district="dc")
    assert chosen([revived, retired_later, first]) == "r"
    assert latest_definitions([first, changed])["r"] == changed.payload


def test_two_definitions_in_one_instant_still_have_one_latest() -> None:
    low = rule("r", event_id=UUID(int=1), district="xc")
    high = rule("r", event_id=UUID(int=2), district="dc")
    assert chosen([low, high]) == chosen([high, low]) == "r"


_RULES = st.lists(
    st.builds(
        rule,
        st.sampled_from(["r1", "r2", "r3", "r4"]),
        at=st.integers(0, 5),
        priority=st.integers(0, 3),
        retired=st.booleans(),
        fault_category=st.sampled_from([None, "outage", "meter"]),
        district=st.sampled_from([None, "dc", "xc"]),
        voltage_min_kv=st.sampled_from([None, 0.2, 1.0, 10.0]),
        voltage_max_kv=st.sampled_from([None, 0.4, 10.0]),
        repair_center_id=st.sampled_from(["rc-1", "rc-2"]),
    ),
    max_size=12,
)
_FAULTS = st.builds(
    Fault,
    category=st.sampled_from(["outage", "meter", "service_drop"]),
    description=st.just("x"),
    voltage_kv=st.sampled_from([None, 0.22, 0.4, 10.0, 35.0]),
)


@given(rules=_RULES, fault=_FAULTS, district=st.sampled_from([None, "dc", "xc"]), data=st.data())
def test_the_choice_does_not_depend_on_the_order_of_the_rules(
    rules: list[RoutingRuleDefined], fault: Fault, district: str | None, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(rules))
    assert route(shuffled, fault, district) == route(rules, fault, district)
    routed = route(rules, fault, district)
    if routed is not None:
        # The winner is a latest definition that matches, and no matching one beats it.
        current = latest_definitions(rules)
        assert current[routed.rule_id] == routed
        assert matches(routed, fault, district)
        assert all(
            (routed.priority, routed.rule_id) <= (r.priority, r.rule_id)
            for r in current.values()
            if matches(r, fault, district)
        )


# The issue the duty chief leaves to the rules.


def opened(district: str | None = "dc") -> tuple[CallEnded, OrderState]:
    payload = CALL.model_copy(update={"fault": LV, "district": district})
    call = open_work_order(payload, T0, T0, "phone-system", tolerance=TOL)
    return call, OrderState.fold(call.work_order_id, [call])


def routed_issue(
    state: OrderState,
    rules: list[RoutingRuleDefined],
    *,
    chief: str = "chief-1",
    minutes: float = 1,
) -> object:
    stamp = T0 + timedelta(minutes=minutes)
    return decide_routed_issue(state, chief, stamp, rules, stamp, "phone-system", tolerance=TOL)


RULES = [rule("rr-dc", district="dc", repair_center_id="rc-dc"), rule("rr-lv", priority=200)]


def test_a_routed_issue_carries_the_rules_repair_center_department_trade_and_id() -> None:
    _, state = opened()
    outcome = decide_routed_issue(
        state, "chief-1", T0 + timedelta(minutes=1), RULES, T0, "phone-system", tolerance=TOL
    )
    assert outcome.is_new
    assert outcome.event.payload == WorkOrderIssuedPayload(
        duty_chief_id="chief-1",
        repair_center_id="rc-dc",
        department="department of rr-dc",
        trade="low_voltage",
        routing_rule_id="rr-dc",
    )


def test_no_matching_rule_is_refused_at_the_repair_center_field() -> None:
    _, state = opened(district="nowhere")
    with pytest.raises(InvalidReference) as refused:
        routed_issue(state, [rule("rr-dc", district="dc")])
    assert refused.value.field == "repair_center_id"
    assert "'nowhere'" in str(refused.value)
    assert "no routing rule" in str(refused.value)


def test_an_unknown_order_is_not_found_before_any_rule_is_read() -> None:
    with pytest.raises(NotFound):
        routed_issue(OrderState.fold(uuid4(), []), [])


def test_a_retry_of_a_routed_issue_replays_even_after_the_rules_changed() -> None:
    call, state = opened()
    first = decide_routed_issue(
        state, "chief-1", T0 + timedelta(minutes=1), RULES, T0, "x", tolerance=TOL
    ).event
    after = OrderState.fold(call.work_order_id, [call, first])
    rerouted = [*RULES, rule("rr-dc", at=30, district="dc", retired=True)]
    for rules in (RULES, rerouted, []):
        again = decide_routed_issue(
            after, "chief-1", T0 + timedelta(minutes=1), rules, T0, "x", tolerance=TOL
        )
        assert (again.is_new, again.event) == (False, first)
    with pytest.raises(AlreadyRecorded) as other_chief:
        decide_routed_issue(
            after, "chief-2", T0 + timedelta(minutes=1), RULES, T0, "x", tolerance=TOL
        )
    assert other_chief.value.differs == ("duty_chief_id",)
    assert other_chief.value.first is not None
    assert other_chief.value.first["routing_rule_id"] == "rr-dc"


def test_routed_and_named_issues_of_one_order_are_different_bodies() -> None:
    call, state = opened()
    stamp = T0 + timedelta(minutes=1)
    named = WorkOrderIssuedPayload(duty_chief_id="chief-1", repair_center_id="rc-dc")
    first = decide_issue(state, named, stamp, T0, "x", tolerance=TOL).event
    after = OrderState.fold(call.work_order_id, [call, first])
    with pytest.raises(AlreadyRecorded) as routed_after_named:
        decide_routed_issue(after, "chief-1", stamp, RULES, T0, "x", tolerance=TOL)
    assert routed_after_named.value.differs == ("repair_center_id",)
    # The other way round: a named issue after a routed one names no rule.
    routed = decide_routed_issue(state, "chief-1", stamp, RULES, T0, "x", tolerance=TOL).event
    after_routed = OrderState.fold(call.work_order_id, [call, routed])
    with pytest.raises(AlreadyRecorded) as named_after_routed:
        decide_issue(after_routed, named, stamp, T0, "x", tolerance=TOL)
    assert "routing_rule_id" in named_after_routed.value.differs


# The seeded city: who covers which faults (docs/domain.md).

SEED = json.loads((Path(__file__).parents[2] / "seed" / "city.json").read_text())


def seeded_rules() -> list[RoutingRuleDefined]:
    return [
        RoutingRuleDefined(
            occurred_at=T0,
            recorded_at=T0,
            source="reference-data",
            correlation_id=STORY,
            payload=RoutingRuleDefinedPayload.model_validate({**body, "rule_id": rule_id}),
        )
        for rule_id, body in SEED["routing_rules"].items()
    ]


def test_every_seeded_rule_sends_orders_to_a_seeded_department_and_trade() -> None:
    crews = {(c["repair_center_id"], c["department"], c["trade"]) for c in SEED["crews"].values()}
    for rule_event in seeded_rules():
        payload = rule_event.payload
        assert (payload.repair_center_id, payload.department, payload.trade) in crews, payload


@pytest.mark.parametrize(
    ("category", "voltage_kv", "district", "department"),
    [
        ("outage", 0.4, "dongcheng", "Dongcheng city supply station"),
        ("low_voltage", 0.22, "xicheng", "Xicheng city supply station"),
        ("outage", None, "chaoyang", "Chaoyang city supply station"),
        ("service_drop", 0.22, "dongcheng", "Dongsi community service station"),
        ("meter", None, "xicheng", "Jinrong Street community service station"),
        ("outage", 10, "chaoyang", "Emergency repair team"),
        ("outage", 10, "xicheng", "Emergency repair team"),
        ("outage", 10, "fangshan", "Fangshan suburban supply station"),
        ("outage", 0.4, "fangshan", "Fangshan suburban supply station"),
    ],
)
def test_the_seeded_rules_follow_who_covers_which_faults(
    category: str, voltage_kv: float | None, district: str, department: str
) -> None:
    fault = Fault(category=category, description="x", voltage_kv=voltage_kv)
    routed = route(seeded_rules(), fault, district)
    assert routed is not None
    assert routed.department == department


def test_the_seed_routes_nothing_outside_its_districts_below_10_kv() -> None:
    assert route(seeded_rules(), LV, "haidian") is None
    assert route(seeded_rules(), LV, None) is None
