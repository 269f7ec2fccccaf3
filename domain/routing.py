"""Routing: which repair center, department and trade an order goes to, by the rules in force.

A rule matches a fault when each condition it states holds (fault category, district, voltage
within ``[voltage_min_kv, voltage_max_kv]``); a condition it leaves out matches anything, and a
condition on something the call did not say (no district, no voltage) does not hold. Only the
latest definition of each rule id counts (by ``recorded_at``, then event id, so that two
definitions recorded in the same instant still have one latest), and a retired rule never
matches. Among the rules that match, the lowest ``priority`` wins, then the lowest rule id: the
choice never depends on the order the rules are stored or received in.

``decide_routed_issue`` is the issue (point B) the duty chief leaves to the rules: the decision
reads the order's call (its fault and district), so it is taken inside the step that records it.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from contracts import Fault, RoutingRuleDefined, WorkOrderIssued, WorkOrderIssuedPayload
from contracts.reference import RoutingRuleDefinedPayload
from domain.errors import InvalidReference, NotFound
from domain.orders import OrderState, Outcome, decide_issue
from domain.retries import require_same

RoutedRule = RoutingRuleDefinedPayload
"""A rule with its id (and whether it is retired), as its latest definition states it."""


def latest_definitions(rules: Iterable[RoutingRuleDefined]) -> dict[str, RoutedRule]:
    """Each rule id's latest definition, by ``recorded_at`` then event id."""
    latest: dict[str, RoutingRuleDefined] = {}
    for rule in rules:
        seen = latest.get(rule.payload.rule_id)
        if seen is None or (rule.recorded_at, rule.event_id) > (seen.recorded_at, seen.event_id):
            latest[rule.payload.rule_id] = rule
    return {rule_id: event.payload for rule_id, event in sorted(latest.items())}


def matches(rule: RoutedRule, fault: Fault, district: str | None) -> bool:
    """Whether every condition the rule states holds for the fault in the district."""
    if rule.retired:
        return False
    if rule.fault_category is not None and rule.fault_category != fault.category:
        return False
    if rule.district is not None and rule.district != district:
        return False
    if rule.voltage_min_kv is not None or rule.voltage_max_kv is not None:
        if fault.voltage_kv is None:
            return False
        if rule.voltage_min_kv is not None and fault.voltage_kv < rule.voltage_min_kv:
            return False
        if rule.voltage_max_kv is not None and fault.voltage_kv > rule.voltage_max_kv:
            return False
    return True


def route(
    rules: Iterable[RoutingRuleDefined], fault: Fault, district: str | None
) -> RoutedRule | None:
    """The rule that routes the fault: lowest priority among those that match, then rule id."""
    candidates = [
        rule for rule in latest_definitions(rules).values() if matches(rule, fault, district)
    ]
    return min(candidates, key=lambda r: (r.priority, r.rule_id), default=None)


def _describe(fault: Fault, district: str | None) -> str:
    voltage = "no voltage" if fault.voltage_kv is None else f"{fault.voltage_kv:g} kV"
    where = "no district" if district is None else f"district {district!r}"
    return f"fault category {fault.category!r}, {voltage}, {where}"


def decide_routed_issue(
    state: OrderState,
    duty_chief_id: str,
    issued_at: datetime,
    rules: Iterable[RoutingRuleDefined],
    recorded_at: datetime,
    source: str,
    *,
    tolerance: timedelta,
) -> Outcome[WorkOrderIssued]:
    """Point B without a repair center named: the rules choose it, with department and trade.

    A retry of a routed issue (the same stamp and duty chief) is answered again with the event
    first stored, even if the rules have changed since: what the rules chose then stands. A
    routed issue of an order first issued to a named repair center is another body (409).
    No rule matching the order's fault is a refusal at ``repair_center_id`` (422): name one.
    """
    call = state.call
    if call is None:
        raise NotFound(f"no work order {state.work_order_id}")
    issued = state.issued
    if issued is not None:
        first = {"issued_at": issued.occurred_at, **dict(issued.payload)}
        stored_rule = issued.payload.routing_rule_id
        # A routed retry says only the stamp and the duty chief; the rest was the rules' choice.
        chosen = (
            {
                "repair_center_id": issued.payload.repair_center_id,
                "department": issued.payload.department,
                "trade": issued.payload.trade,
                "routing_rule_id": stored_rule,
            }
            if stored_rule is not None
            else {"repair_center_id": None, "department": None, "trade": None}
        )
        again = {**first, "issued_at": issued_at, "duty_chief_id": duty_chief_id, **chosen}
        require_same(f"work order {state.work_order_id} was already issued", first, again)
        return Outcome(issued, is_new=False)
    fault, district = call.payload.fault, call.payload.district
    rule = route(rules, fault, district)
    if rule is None:
        raise InvalidReference(
            "repair_center_id",
            f"no routing rule matches this order ({_describe(fault, district)}): "
            "name the repair center",
        )
    payload = WorkOrderIssuedPayload(
        duty_chief_id=duty_chief_id,
        repair_center_id=rule.repair_center_id,
        department=rule.department,
        trade=rule.trade,
        routing_rule_id=rule.rule_id,
    )
    return decide_issue(state, payload, issued_at, recorded_at, source, tolerance=tolerance)
