"""The summary report from the projection: JSON, CSV, by department and by day of A."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.support.desk import POINT_REPORTS, Crew, Desk, minutes_after

pytestmark = pytest.mark.e2e

Json = dict[str, Any]
CITY, SUBURBAN = "City supply station", "Suburban supply station"


def order_with_department(desk: Desk, crew: Crew, points: dict[str, datetime], dept: str) -> str:
    """An order walked A to H whose issue names its department."""
    wo = desk.call(points["A"])
    desk.ok(
        desk.post(
            "intake",
            f"/v1/work-orders/{wo}/issue",
            {
                "issued_at": points["B"].isoformat(),
                "duty_chief_id": "chief-1",
                "repair_center_id": crew.repair_center_id,
                "department": dept,
            },
        )
    )
    desk.wait_at_dispatch(wo)
    desk.receipt(wo, points["C"], crew)
    desk.dispatch(wo, points["D"], crew)
    for point, kind in POINT_REPORTS.items():
        desk.ok(desk.report(crew.vehicle_id, kind, points[point], wo))
    return wo


def test_summary_by_department_and_day_in_json_and_csv(desk: Desk) -> None:
    # A window of two days of its own, 20 days back, that no other test's orders fall in.
    day1 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
    day2 = day1 + timedelta(days=1)
    crew = desk.crew(co_located=False)
    on_time = minutes_after(day1 + timedelta(hours=2), A=0, B=1.5, C=3, D=4, E=6, F=7, G=9, H=30)
    ab_late = minutes_after(day1 + timedelta(hours=3), A=0, B=3, C=5, D=6, E=7, F=8, G=10, H=35)
    gh_late = minutes_after(day2 + timedelta(hours=2), A=0, B=1, C=2, D=3, E=4, F=5, G=6, H=56)
    orders = [
        order_with_department(desk, crew, on_time, CITY),
        order_with_department(desk, crew, ab_late, CITY),
        order_with_department(desk, crew, gh_late, SUBURBAN),
    ]
    for wo in orders:
        # H consumed: the projection row was written in the same transaction as the event.
        desk.timeline(wo, set("ABCDEFGH"))
    period = {"from": day1.isoformat(), "to": (day2 + timedelta(days=1)).isoformat()}
    report: Json = desk.ok(desk.get("timeline", "/v1/reports/summary", **period))
    assert report["orders"] == 3
    assert report["on_time_rate"] == pytest.approx(2 / 3)
    assert report["breaches_by_responsible"]["customer_service_center"] == 1  # AB, 3 min
    assert report["breaches_by_responsible"]["crew_repair_staff"] == 1  # GH, 50 min
    assert report["segments"]["AB"] == {
        "p50_s": 90.0,
        "p90_s": 162.0,
        "p99_s": 178.2,
        "breached": 1,
    }
    assert report["segments"]["GH"]["p50_s"] == 25 * 60.0
    assert report["groups"] == []

    by_department = desk.ok(
        desk.get("timeline", "/v1/reports/summary", group_by="department", **period)
    )
    groups = {g["key"]: g for g in by_department["groups"]}
    assert set(groups) == {CITY, SUBURBAN}
    assert (groups[CITY]["orders"], groups[CITY]["on_time_rate"]) == (2, 1.0)
    assert (groups[SUBURBAN]["orders"], groups[SUBURBAN]["on_time_rate"]) == (1, 0.0)
    assert groups[SUBURBAN]["segments"]["GH"]["breached"] == 1

    by_day = desk.ok(desk.get("timeline", "/v1/reports/summary", group_by="day", **period))
    assert [(g["key"], g["orders"]) for g in by_day["groups"]] == [
        (day1.date().isoformat(), 2),
        (day2.date().isoformat(), 1),
    ]

    response = desk.http.get(
        desk.url("timeline", "/v1/reports/summary"),
        params={**period, "group_by": "day"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert len(lines) == 3 * 7  # the whole period, then each day; one line per segment
    whole_ab = next(r for r in lines if r["group"] == "" and r["segment"] == "AB")
    assert (whole_ab["orders"], whole_ab["p50_s"], whole_ab["breached"]) == ("3", "90.0", "1")
    day2_gh = next(
        r for r in lines if r["group"] == day2.date().isoformat() and r["segment"] == "GH"
    )
    assert (day2_gh["group_by"], day2_gh["breaches_crew_repair_staff"]) == ("day", "1")


def test_a_period_without_orders_reports_none_whole_and_no_groups(desk: Desk) -> None:
    # Further back than any stamp is accepted (``LIVE_STAMP_TOLERANCE_S``: 30 days here).
    start = datetime.now(UTC) - timedelta(days=300)
    period = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    for group_by in ("department", "day"):
        report = desk.ok(desk.get("timeline", "/v1/reports/summary", group_by=group_by, **period))
        assert (report["orders"], report["on_time_rate"], report["groups"]) == (0, None, [])
        assert set(report["breaches_by_responsible"].values()) == {0}
        assert set(report["segments"]) == {"AB", "BC", "CD", "DE", "EF", "FG", "GH"}
        for stats in report["segments"].values():
            assert stats == {"p50_s": None, "p90_s": None, "p99_s": None, "breached": 0}


def test_a_period_that_ends_before_it_starts_is_refused_at_to(desk: Desk) -> None:
    start = datetime.now(UTC)
    response = desk.get(
        "timeline",
        "/v1/reports/summary",
        **{"from": start.isoformat(), "to": (start - timedelta(hours=1)).isoformat()},
    )
    assert response.status_code == 422
    assert "to" in response.text


def test_a_rejudgement_is_recorded_and_shown_beside_the_live_answer(desk: Desk) -> None:
    crew = desk.crew(co_located=True)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=25
    )
    points = minutes_after(start + timedelta(hours=1), A=0, B=1, C=2, D=3, E=4, F=5, G=6, H=20)
    wo = order_with_department(desk, crew, points, CITY)
    desk.timeline(wo, set("ABCDEFGH"))
    live = desk.ok(desk.get("timeline", f"/v1/work-orders/{wo}/timeline"))
    period = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    body = {
        "policy_version": live["policy_version"],
        **period,
        "requested_by": "auditor-3",
        "reason": "check the November findings again",
    }
    first = desk.post("timeline", "/v1/rejudgements", body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["counts"] == {"orders": 1, "changed": 0, "breached": 0}
    assert (answer["policy_version"], answer["requested_by"]) == (
        live["policy_version"],
        "auditor-3",
    )

    again = desk.post("timeline", "/v1/rejudgements", body)
    assert (again.status_code, again.json()) == (200, answer)
    assert again.headers["Idempotent-Replay"] == "true"
    other = desk.post("timeline", "/v1/rejudgements", {**body, "reason": "another reason"})
    assert other.status_code == 409

    shown = desk.ok(
        desk.get(
            "timeline",
            f"/v1/work-orders/{wo}/timeline",
            policy_version=live["policy_version"],
        )
    )
    assert shown["policy_version"] == live["policy_version"]
    assert shown["points"] == live["points"]
    assert [s["status"] for s in shown["segments"]] == [s["status"] for s in live["segments"]]

    unknown = desk.post("timeline", "/v1/rejudgements", {**body, "policy_version": "1999-01-01"})
    assert unknown.status_code == 404
    assert "1999-01-01" in unknown.text
    not_rejudged = desk.get(
        "timeline", f"/v1/work-orders/{wo}/timeline", policy_version="1999-01-01"
    )
    assert not_rejudged.status_code == 404
    with psycopg.connect(desk.system.database_urls["timeline"]) as conn:
        row = conn.execute(
            b"SELECT count(*) FROM events e JOIN outbox o USING (event_id)"
            b" WHERE e.event_type = 'FindingsRejudged' AND e.body->'payload'->>'requested_by'"
            b" = 'auditor-3'"
        ).fetchone()
    assert row == (1,)  # one recorded action, though posted twice
