"""HTTP in, timeline out: the domain's cases through the three running services."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.desk import Desk, ago, minutes_after

pytestmark = pytest.mark.e2e

SEGMENTS = ("AB", "BC", "CD", "DE", "EF", "FG", "GH")
ALL_POINTS = set("ABCDEFGH")


def statuses(timeline: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["segment"]: (s["status"], s["responsible"]) for s in timeline["segments"]}


def assert_points(timeline: dict[str, Any], points: dict[str, datetime]) -> None:
    for point in ALL_POINTS:
        got = timeline["points"][point]
        if point in points:
            assert datetime.fromisoformat(got) == points[point], point
        else:
            assert got is None, point


ON_TIME = {
    "AB": ("met", "customer_service_center"),
    "BC": ("met", "repair_center"),
    "CD": ("met", "repair_center"),
    "DE": ("met", "crew_receiver"),
    "EF": ("met", "crew_receiver"),
    "FG": ("met", "crew_repair_staff"),
    "GH": ("met", "crew_repair_staff"),
}


def test_all_on_time(desk: Desk) -> None:
    points = minutes_after(ago(50), A=0, B=1.5, C=3, D=4, E=6, F=7, G=9, H=30)
    wo = desk.order(desk.crew(co_located=False), points)
    timeline = desk.timeline(wo, ALL_POINTS)
    assert_points(timeline, points)
    assert statuses(timeline) == ON_TIME
    assert timeline["total"] == {
        **timeline["total"],
        "status": "met",
        "duration_s": 1800.0,
        "limit_s": 2700,
        "responsible": [],
    }
    # Posted 20–50 minutes after the fact: flagged as late reports, nothing else.
    assert {a["code"] for a in timeline["anomalies"]} <= {"reported_late"}


def test_ab_breached_is_the_customer_service_centers(desk: Desk) -> None:
    points = minutes_after(ago(50), A=0, B=3, C=5, D=6, E=7, F=8, G=10, H=35)
    wo = desk.order(desk.crew(co_located=False), points)
    timeline = desk.timeline(wo, ALL_POINTS)
    assert statuses(timeline) == {**ON_TIME, "AB": ("breached", "customer_service_center")}
    ab = timeline["segments"][0]
    assert (ab["duration_s"], ab["limit_s"]) == (180.0, 120)
    assert ab["evidence"]
    assert timeline["total"]["status"] == "met"


def test_gh_breached_makes_the_order_late_on_the_crew(desk: Desk) -> None:
    points = minutes_after(ago(50), A=0, B=1, C=2, D=3, E=4, F=5, G=6, H=46)
    wo = desk.order(desk.crew(co_located=True), points)
    timeline = desk.timeline(wo, ALL_POINTS)
    assert statuses(timeline) == {**ON_TIME, "GH": ("breached", "crew_repair_staff")}
    assert timeline["segments"][-1]["duration_s"] == 40 * 60
    total = timeline["total"]
    assert (total["status"], total["duration_s"], total["responsible"]) == (
        "breached",
        2760.0,
        ["crew_repair_staff"],
    )


@pytest.mark.parametrize(("co_located", "expected"), [(False, "met"), (True, "breached")])
def test_de_of_three_minutes_depends_on_where_the_crew_sits(
    desk: Desk, co_located: bool, expected: str
) -> None:
    points = minutes_after(ago(50), A=0, B=1, C=2, D=3, E=6, F=7, G=8, H=20)
    wo = desk.order(desk.crew(co_located=co_located), points)
    timeline = desk.timeline(wo, ALL_POINTS)
    de = timeline["segments"][3]
    assert (de["segment"], de["duration_s"], de["limit_s"]) == (
        "DE",
        180.0,
        120 if co_located else 240,
    )
    assert statuses(timeline) == {**ON_TIME, "DE": (expected, "crew_receiver")}
    if expected == "breached":
        assert "network healthy" in de["evidence"]


def test_an_order_under_way_is_running(desk: Desk) -> None:
    points = minutes_after(ago(6), A=0, B=1, C=3, D=4)
    wo = desk.order(desk.crew(co_located=False), points)
    timeline = desk.timeline(wo, set("ABCD"))
    assert_points(timeline, points)
    got = statuses(timeline)
    assert {s: got[s] for s in ("AB", "BC", "CD")} == {s: ON_TIME[s] for s in ("AB", "BC", "CD")}
    assert got["DE"] == ("running", "crew_receiver")
    assert [got[s][0] for s in ("EF", "FG", "GH")] == ["incomplete"] * 3
    assert timeline["total"]["status"] == "running"
    # The same order as an auditor saw it 15 minutes from now: DE has breached by then.
    later = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
    assert statuses(desk.timeline(wo, set("ABCD"), as_of=later))["DE"] == (
        "breached",
        "crew_receiver",
    )


def test_a_late_bc_during_a_network_incident_is_the_networks(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(50), A=0, B=1, C=7, D=8, E=9, F=10, G=11, H=30)
    desk.ok(
        desk.post(
            "dispatch",
            "/v1/network-incidents",
            {
                "incident_id": f"inc-{crew.crew_id}",
                "link": "customer_service_to_repair_center",
                "repair_center_id": crew.repair_center_id,
                "started_at": points["B"].isoformat(),
                "ended_at": points["C"].isoformat(),
                "description": "fibre cut between 95598 and the repair center",
            },
        )
    )
    wo = desk.order(crew, points)
    timeline = desk.timeline(wo, ALL_POINTS)
    bc = timeline["segments"][1]
    assert (bc["status"], bc["responsible"]) == ("breached", "network")
    assert f"inc-{crew.crew_id}" in bc["evidence"]


def test_reports_out_of_order_are_placed_by_the_units_clock(desk: Desk) -> None:
    crew = desk.crew(co_located=False)
    points = minutes_after(ago(50), A=0, B=1, C=2, D=3, E=4, F=5, G=7, H=25)
    wo = desk.order(crew, {p: t for p, t in points.items() if p in "ABCDEF"})
    # The unit's "departed" failed and was retried after "arrived" got through.
    desk.ok(desk.report(crew.vehicle_id, "arrived", points["H"], wo))
    desk.ok(desk.report(crew.vehicle_id, "departed", points["G"], wo))
    timeline = desk.timeline(wo, ALL_POINTS)
    assert_points(timeline, points)
    assert statuses(timeline) == ON_TIME
    assert "out_of_order" not in {a["code"] for a in timeline["anomalies"]}
