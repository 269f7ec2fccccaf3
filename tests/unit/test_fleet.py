"""Vehicles as the repair center sees them: state, rule 6, ranking, blocked dispatches, rule 5,
and the board's reading of an order (its status, the running segment and the time left)."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts import Position
from domain.board import OrderStatus, board_entry
from domain.fleet import (
    Block,
    Fleet,
    Group,
    VehicleState,
    blocked_reason,
    blocks_to_alert,
    dispatch_warnings,
    great_circle_km,
    rank_candidates,
    unavailability_refusal,
    vehicle_state,
)
from domain.orders import OrderState, decide_crew_report, decide_recall
from domain.policy import DEFAULT_POLICY, Point, Segment
from tests.unit.test_orders import REC, at, dispatched

FAULT = Position(lat=39.93, lon=116.42)


def vehicle(
    vid: str,
    state: VehicleState = VehicleState.STANDBY,
    *,
    trade: str = "low_voltage",
    faulty: bool = False,
    km_north: float | None = None,
) -> Fleet:
    position = None if km_north is None else Position(lat=39.93 + km_north / 111.2, lon=116.42)
    return Fleet(vid, f"crew-{vid}", "City supply", trade, state, faulty, position)


def test_a_vehicle_is_as_busy_as_its_busiest_order_unless_its_crew_is_away() -> None:
    assert vehicle_state(False, []) is VehicleState.STANDBY
    stages = [VehicleState.ASSIGNED, VehicleState.ON_SITE, VehicleState.EN_ROUTE]
    assert vehicle_state(False, stages) is VehicleState.ON_SITE
    assert vehicle_state(True, stages) is VehicleState.UNAVAILABLE


def test_rule_6_refuses_only_when_nobody_else_of_the_group_stands_by() -> None:
    group = Group("rc-1", "City supply", "low_voltage")
    assert unavailability_refusal(group, ["veh-2"]) is None
    refusal = unavailability_refusal(group, [])
    assert refusal is not None
    assert "rule 6" in refusal
    assert "City supply / low_voltage" in refusal


def test_candidates_rank_trade_then_availability_then_unit_then_distance() -> None:
    fleet = [
        vehicle("far", km_north=9),
        vehicle("near", km_north=1),
        vehicle("busy-near", VehicleState.ASSIGNED, km_north=0.1),
        vehicle("faulty-near", faulty=True, km_north=0.2),
        vehicle("other-trade", trade="10kv", km_north=0.1),
        vehicle("away", VehicleState.UNAVAILABLE, km_north=0.1),
        vehicle("unknown-place"),
    ]
    ranked = rank_candidates("City supply", "low_voltage", FAULT, fleet)
    assert [c.vehicle.vehicle_id for c in ranked] == [
        "near",
        "far",
        "unknown-place",
        "faulty-near",
        "busy-near",
        "away",
        "other-trade",
    ]
    assert [c.rank for c in ranked] == list(range(1, 8))
    assert ranked[0].distance_km is not None
    assert abs(ranked[0].distance_km - 1.0) < 0.01
    assert "1.0 km from the fault" in ranked[0].reason
    assert "distance unknown" in ranked[2].reason
    assert "GPS unit faulty" in ranked[3].reason
    assert "other trade or department" in ranked[-1].reason


@given(st.permutations([vehicle(f"v{i}", km_north=i * 0.7) for i in range(6)]))
def test_the_ranking_does_not_depend_on_the_order_vehicles_are_listed(fleet: list[Fleet]) -> None:
    ids = [c.vehicle.vehicle_id for c in rank_candidates(None, None, FAULT, fleet)]
    assert ids == [f"v{i}" for i in range(6)]


def test_great_circle_distance_is_right_on_a_known_pair() -> None:
    # Beijing (Tiananmen) to Shanghai (People's Square): about 1,068 km.
    assert (
        1060
        < great_circle_km(Position(lat=39.9087, lon=116.3975), Position(lat=31.2304, lon=121.4737))
        < 1075
    )
    assert great_circle_km(FAULT, FAULT) == 0


def test_an_order_is_blocked_only_when_no_suitable_vehicle_stands_by_with_a_working_unit() -> None:
    assert blocked_reason("City supply", "low_voltage", [vehicle("a")]) is None
    assert blocked_reason(None, None, [vehicle("a", trade="10kv")]) is None
    reason = blocked_reason(
        "City supply",
        "low_voltage",
        [
            vehicle("busy", VehicleState.EN_ROUTE),
            vehicle("away", VehicleState.UNAVAILABLE),
            vehicle("faulty", faulty=True),
            vehicle("wrong", trade="10kv"),
        ],
    )
    assert reason == (
        "no suitable vehicle on standby among 3: 1 busy, 1 unavailable, "
        "1 on standby with a faulty GPS unit"
    )
    assert blocked_reason("Nobody", "none", [vehicle("a")]) is not None


def test_a_capacity_alert_needs_enough_blocks_inside_the_window() -> None:
    blocks = [Block(dispatched().work_order_id, at(m)) for m in (0, 20, 40, 45)]
    window = timedelta(minutes=30)
    assert blocks_to_alert(blocks[:2], at(20), window, 3) == []
    assert blocks_to_alert(blocks[:3], at(40), window, 3) == []  # the first fell out
    assert blocks_to_alert(blocks, at(45), window, 3) == blocks[1:]


def test_dispatch_warnings_say_what_the_dispatcher_should_know() -> None:
    assert dispatch_warnings(vehicle("ok")) == []
    [faulty] = dispatch_warnings(vehicle("f", faulty=True))
    assert "faulty" in faulty
    [busy] = dispatch_warnings(vehicle("b", VehicleState.EN_ROUTE))
    assert "en_route" in busy
    [away] = dispatch_warnings(vehicle("u", VehicleState.UNAVAILABLE))
    assert "unavailable" in away


def test_the_board_follows_the_attempt_under_way() -> None:
    state = dispatched()
    entry = board_entry(state)
    assert (entry.status, entry.vehicle_id, entry.vehicle_stage) == (
        OrderStatus.DISPATCHED,
        "veh-1",
        VehicleState.ASSIGNED,
    )
    assert set(entry.points) == {Point.A, Point.B, Point.C, Point.D}
    running = entry.running(DEFAULT_POLICY, at(4))
    assert running is not None
    assert (running.segment, running.limit_s, running.left_s) == (Segment.DE, 120, 60.0)

    recall = decide_recall(state, "not ours", "d", at(5), REC, "rc").event
    events = [state.call, state.issued, state.received, *state.dispatches, recall]
    after = board_entry(OrderState.fold(state.work_order_id, [e for e in events if e]))
    assert (after.status, after.vehicle_id, after.vehicle_stage) == (
        OrderStatus.RECEIVED,
        None,
        None,
    )
    waiting = after.running(DEFAULT_POLICY, at(5))
    assert waiting is not None
    assert (waiting.segment, waiting.left_s) == (Segment.CD, -60.0)  # C at 2, limit 2 min


def test_the_board_drops_an_order_once_its_fault_is_cleared() -> None:
    state = dispatched()
    arrived = decide_crew_report(state, "departed", "veh-1", "r1", None, at(8), REC).event
    cleared = decide_crew_report(state, "fault_cleared", "veh-1", "r2", None, at(30), REC).event
    events = [e for e in (state.call, state.issued, state.received, *state.dispatches) if e]
    on_the_way = board_entry(OrderState.fold(state.work_order_id, [*events, arrived]))
    assert on_the_way.vehicle_stage is VehicleState.EN_ROUTE
    assert on_the_way.points[Point.G] == at(8)
    done = board_entry(OrderState.fold(state.work_order_id, [*events, arrived, cleared]))
    assert not done.is_open
    assert done.vehicle_stage is None
    assert done.running(DEFAULT_POLICY, at(31)) is None
