"""The auditor's desk in a real browser: an order made late over HTTP, then found, read, replayed
as of an earlier instant and counted in the period report, as an auditor preparing a dispute
would. Each view leaves a screenshot (``tests/browser/conftest.py``: ``shot``)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import shot, signed_in
from tests.e2e.test_escalations import ON_DUTY_PHONE, call, staffed_crew, wait_open
from tests.support.desk import Desk, Json, wait_for

pytestmark = pytest.mark.browser


def spelled(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def late_at_the_crew(desk: Desk) -> tuple[str, datetime, datetime]:
    """An order dispatched 6 minutes ago to a crew out of the center's office (DE ≤ 4 min),
    whose unit reports E only once rule 2 was raised and the crew phoned: DE breached, the
    crew's receiver answering, a rung with its call on the ladder. Returns the order, its A,
    and an instant after D and the call and before E were recorded."""
    crew = staffed_crew(desk).crew
    d_at = datetime.now(UTC) - timedelta(minutes=6)
    a_at = d_at - timedelta(minutes=3)
    points = {
        "A": a_at,
        "B": d_at - timedelta(minutes=2),
        "C": d_at - timedelta(minutes=1),
        "D": d_at,
    }
    wo = desk.order(crew, points)
    desk.timeline(wo, set("ABCD"))
    rung = wait_open(desk, wo, "not_taken", 1)  # rule 2: the crew has not taken it in 4 min
    phoned = {"called_at": spelled(datetime.now(UTC)), "phone": ON_DUTY_PHONE, "reached": True}
    answer = call(desk, rung["escalation_id"], {**phoned, "note": "unit was switched off"})
    assert answer.status_code == 201, answer.text
    before_e = datetime.now(UTC)
    desk.ok(desk.report(crew.vehicle_id, "order_received", datetime.now(UTC), wo))
    desk.timeline(wo, set("ABCDE"))

    def closed_on_the_timeline() -> bool:
        path = f"/v1/work-orders/{wo}/escalations"
        items: list[Json] = desk.ok(desk.get("timeline", path))["items"]
        return any(r["status"] == "closed" and r["calls"] for r in items)

    wait_for("the rung, its call and its closure on the timeline", closed_on_the_timeline)
    return wo, a_at, before_e


def segment(timeline: Json, name: str) -> Json:
    found: Json = next(s for s in timeline["segments"] if s["segment"] == name)
    return found


def test_an_auditor_finds_the_late_order_sees_the_breach_replays_it_and_sees_it_counted(
    desk: Desk, context: BrowserContext, page: Page, tmp_path: Path
) -> None:
    wo, a_at, before_e = late_at_the_crew(desk)
    live = desk.timeline(wo, set("ABCDE"))
    de = segment(live, "DE")
    assert (de["status"], de["responsible"]) == ("breached", "crew_receiver")
    assert de["evidence"]
    period = {
        "from": spelled(a_at - timedelta(seconds=1)),
        "to": spelled(a_at + timedelta(seconds=1)),
    }

    def counted() -> Json | None:
        report: Json = desk.ok(desk.get("timeline", "/v1/reports/summary", **period))
        return report if report["segments"]["DE"]["breached"] == 1 else None

    wait_for("the breach in the projection's report", counted)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    base = desk.system.urls["timeline"]
    signed_in(context, base, desk.system.keys.auditor)

    # Find the order; the breach with its party and evidence.
    page.goto(f"{base}/desk/")
    expect(page.get_by_test_id("who")).to_contain_text("auditor")
    page.get_by_test_id("order-search").fill(wo)
    page.get_by_test_id("order-open").click()
    content = page.get_by_test_id("order-content")
    expect(content).to_have_attribute("data-as-of", "now")
    row = page.get_by_test_id("finding-DE")
    expect(row).to_have_attribute("data-status", "breached")
    expect(row).to_have_attribute("data-party", "crew_receiver")
    expect(row.get_by_test_id("evidence")).to_contain_text(de["evidence"])
    expect(row).to_contain_text("crew member who receives orders")
    expect(page.get_by_test_id("bar-DE")).to_have_attribute("data-status", "breached")
    expect(page.get_by_test_id("finding-CD")).to_have_attribute("data-status", "met")
    expect(page.get_by_test_id("point-E")).to_have_attribute("data-set", "yes")
    history: list[Json] = desk.get("timeline", f"/v1/work-orders/{wo}/events").json()
    expect(page.get_by_test_id("history-row")).to_have_count(len(history))
    reached = next(e for e in history if e["event_type"] == "OrderReachedCrew")
    expect(page.get_by_test_id("history")).to_contain_text(reached["topic"])
    # Dispatched 6 minutes ago and taken only now: rule 2 was raised, and E closed it.
    rung = page.locator("[data-testid=rung][data-rule=not_taken][data-level='1']")
    expect(rung).to_have_attribute("data-status", "closed")
    expect(rung.get_by_test_id("rung-contact")).to_contain_text("on duty")
    phoned = rung.get_by_test_id("ladder-call")
    expect(phoned).to_have_count(1)
    expect(phoned).to_have_attribute("data-reached", "true")
    expect(phoned).to_contain_text("unit was switched off")
    expect(phoned).to_contain_text("crew_on_duty")
    expect(page.get_by_test_id("svg-link")).to_have_attribute(
        "href", f"/v1/work-orders/{wo}/timeline.svg"
    )
    shot(page, "desk-order-breached")

    # As of an instant after D and before E was recorded: E unknown, DE still running.
    earlier: Json = desk.ok(
        desk.get("timeline", f"/v1/work-orders/{wo}/timeline", as_of=spelled(before_e))
    )
    assert earlier["points"]["E"] is None
    page.get_by_test_id("asof-slider").fill(str(before_e.timestamp() * 1000))
    expect(content).not_to_have_attribute("data-as-of", "now")
    expect(page.get_by_test_id("point-E")).to_have_attribute("data-set", "no")
    expect(page.get_by_test_id("finding-DE")).to_have_attribute(
        "data-status", segment(earlier, "DE")["status"]
    )
    expect(page.get_by_test_id("history-hidden")).to_be_visible()
    expect(page.get_by_test_id("history-row")).to_have_count(len(history) - 1)
    expect(rung).to_have_attribute("data-status", "open")  # E, which closed it, not yet known
    expect(rung.get_by_test_id("ladder-call")).to_have_count(1)
    shot(page, "desk-order-as-of")
    page.get_by_test_id("asof-now").click()
    expect(page.get_by_test_id("point-E")).to_have_attribute("data-set", "yes")

    # The period report: the breach counted against its segment and its party; the CSV too.
    page.get_by_test_id("tab-report").click()
    page.get_by_test_id("report-from").fill(period["from"])
    page.get_by_test_id("report-to").fill(period["to"])
    page.get_by_test_id("report-run").click()
    expect(page.get_by_test_id("report-orders")).to_have_text("1")
    by_segment = page.get_by_test_id("chart-segment").locator("[data-key=DE]")
    expect(by_segment).to_have_attribute("data-value", "1")
    by_party = page.get_by_test_id("chart-party").locator("[data-key=crew_receiver]")
    expect(by_party).to_have_attribute("data-value", "1")
    expect(page.get_by_test_id("chart-percentiles").locator("[data-segment=DE]")).to_contain_text(
        "min"
    )
    with page.expect_download() as download:
        page.get_by_test_id("report-csv").click()
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    header = lines[0].split(",")
    de_line = next(
        line.split(",") for line in lines[1:] if line.split(",")[header.index("segment")] == "DE"
    )
    assert de_line[header.index("breached")] == "1"
    assert de_line[header.index("breaches_crew_receiver")] == "1"
    shot(page, "desk-report")
    assert errors == []


def test_the_desk_asks_for_a_token_and_refuses_one_that_is_not_an_auditors(
    desk: Desk, page: Page
) -> None:
    base = desk.system.urls["timeline"]
    page.goto(f"{base}/desk/")
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    page.get_by_test_id("signin-token").fill(desk.system.keys.phone_system)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("auditor")
    shot(page, "desk-signin-refused")
    page.get_by_test_id("signin-token").fill(desk.system.keys.auditor)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("order-form")).to_be_visible()
    expect(page.get_by_test_id("recent")).to_be_visible()
