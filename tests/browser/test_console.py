"""The dispatcher's console in a real browser: an order appears live, is received and
dispatched, and moves to its vehicle; the vehicle's GPS report moves it on the map. No reload."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import shot, signed_in
from tests.support.desk import Desk, ago

pytestmark = pytest.mark.browser
LIVE_MS = 15_000
"""How long a change may take to show: the stream, then the page's fetch."""


def _position(desk: Desk, vehicle_id: str, report_id: str, lat: float, lon: float) -> None:
    """The vehicle's GPS unit reports where it is (the harness sends the device's token)."""
    body = {
        "report_id": report_id,
        "type": "position",
        "occurred_at": datetime.now(UTC).isoformat(),
        "position": {"lat": lat, "lon": lon},
    }
    desk.ok(desk.post("dispatch", f"/v1/vehicles/{vehicle_id}/reports", body))


def _script_errors(page: Page) -> list[str]:
    """What the page's scripts threw or logged as errors, collected from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors


def open_console(desk: Desk, context: BrowserContext, page: Page, center: str) -> list[str]:
    """The console open on ``center``'s dispatcher's token, live; the script errors' list."""
    errors = _script_errors(page)
    base = desk.system.urls["dispatch"]
    signed_in(context, base, desk.system.keys.dispatcher(center))
    page.goto(f"{base}/console/")
    expect(page.get_by_test_id("center-id")).to_have_text(center)
    expect(page.get_by_test_id("live-text")).to_have_text("live", timeout=LIVE_MS)
    # A mark that a reload would wipe: everything after it must arrive without one.
    page.evaluate("window.__same_page = true")
    return errors


def test_a_dispatcher_receives_and_dispatches_a_new_order_and_sees_it_move(
    desk: Desk, context: BrowserContext, page: Page
) -> None:
    crew = desk.crew(co_located=True)
    errors = open_console(desk, context, page, crew.repair_center_id)
    board = page.get_by_test_id("vehicles")
    expect(board.locator(f'[data-vehicle-id="{crew.vehicle_id}"]')).to_be_visible()
    expect(page.get_by_test_id("map")).to_contain_text("no positions reported yet")

    # The order is issued after the page loaded: it appears waiting for receipt (C).
    wo = desk.call(ago(2))
    desk.issue(wo, ago(1), crew)
    waiting_c = page.get_by_test_id("waiting-c").locator(f'[data-work-order-id="{wo}"]')
    expect(waiting_c).to_be_visible(timeout=LIVE_MS)
    expect(waiting_c.get_by_test_id("time-left")).to_contain_text("to receipt")
    expect(page.get_by_test_id("waiting-c-count")).to_have_text("1")

    waiting_c.get_by_test_id("receive").click()
    waiting_d = page.get_by_test_id("waiting-d").locator(f'[data-work-order-id="{wo}"]')
    expect(waiting_d).to_be_visible(timeout=LIVE_MS)
    expect(waiting_c).to_have_count(0)
    expect(waiting_d.get_by_test_id("time-left")).to_contain_text("to dispatch")

    waiting_d.get_by_test_id("dispatch").click()
    candidates = page.get_by_test_id("candidates").get_by_test_id("candidate")
    expect(candidates.first).to_have_attribute("data-vehicle-id", crew.vehicle_id)
    candidates.first.get_by_test_id("candidate-dispatch").click()
    expect(page.get_by_test_id("candidates-dialog")).to_be_hidden()

    dispatched = page.get_by_test_id("dispatched").locator(f'[data-work-order-id="{wo}"]')
    expect(dispatched).to_be_visible(timeout=LIVE_MS)
    expect(dispatched).to_contain_text(crew.vehicle_id)
    expect(waiting_d).to_have_count(0)
    vehicle = page.get_by_test_id("vehicles").locator(f'[data-vehicle-id="{crew.vehicle_id}"]')
    expect(vehicle.get_by_test_id("vehicle-queue")).to_have_text(wo[:8], timeout=LIVE_MS)
    expect(vehicle.get_by_test_id("vehicle-state")).to_have_text("assigned")
    expect(page.get_by_test_id("notice")).to_contain_text(f"Dispatched {wo[:8]}")

    # The GPS unit reports twice: the vehicle is drawn, then drawn where it went.
    on_map = page.get_by_test_id("map").locator(f'[data-vehicle-id="{crew.vehicle_id}"]')
    _position(desk, crew.vehicle_id, "pos-1", 39.9042, 116.4074)
    expect(on_map).to_have_attribute("data-lat", "39.9042", timeout=LIVE_MS)
    _position(desk, crew.vehicle_id, "pos-2", 39.9289, 116.3883)
    expect(on_map).to_have_attribute("data-lat", "39.9289", timeout=LIVE_MS)
    expect(on_map).to_have_attribute("data-lon", "116.3883")
    expect(vehicle.get_by_test_id("vehicle-position")).to_contain_text("39.92890, 116.38830")

    assert page.evaluate("window.__same_page") is True, "the page was reloaded"
    assert errors == []
    shot(page, "console-dispatched-and-moved")


def test_an_escalation_is_phoned_and_recorded_then_a_recall_and_a_second_dispatch(
    desk: Desk, context: BrowserContext, page: Page
) -> None:
    crew = desk.crew(co_located=False)
    errors = open_console(desk, context, page, crew.repair_center_id)
    # Issued nine minutes ago and never received: rule 1's first rung is due at once.
    wo = desk.call(ago(10))
    desk.issue(wo, ago(9), crew)
    card = page.get_by_test_id("escalations").get_by_test_id("escalation").first
    expect(card).to_be_visible(timeout=LIVE_MS + 15_000)
    expect(card.get_by_test_id("escalation-facts")).to_contain_text("Not received (C)")
    expect(card.get_by_test_id("escalation-facts")).to_contain_text(wo[:8])
    phone = card.get_by_test_id("escalation-phone").first
    expect(phone).to_have_attribute("href", "tel:+861065000000")
    card.get_by_test_id("call-reached").check()
    card.get_by_test_id("call-note").fill("center on it, receiving now")
    card.get_by_test_id("call-record").click()
    call = card.get_by_test_id("escalation-call")
    expect(call).to_have_count(1, timeout=LIVE_MS)
    expect(call).to_contain_text("+86 10 6500 0000")
    expect(call).to_contain_text("reached: center on it, receiving now")
    shot(page, "console-escalation-call-recorded")

    row = page.get_by_test_id("waiting-c").locator(f'[data-work-order-id="{wo}"]')
    expect(row.get_by_test_id("time-left")).to_contain_text("overdue")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    row.get_by_test_id("receive").click()
    waiting_d = page.get_by_test_id("waiting-d").locator(f'[data-work-order-id="{wo}"]')
    expect(waiting_d).to_be_visible(timeout=LIVE_MS)
    # Receipt (C) ends the wait: the not-received escalation leaves the open list.
    expect(
        page.get_by_test_id("escalations")
        .get_by_test_id("escalation-facts")
        .filter(has_text="Not received (C)")
    ).to_have_count(0, timeout=LIVE_MS)

    waiting_d.get_by_test_id("dispatch").click()
    page.get_by_test_id("candidate-dispatch").first.click()
    dispatched = page.get_by_test_id("dispatched").locator(f'[data-work-order-id="{wo}"]')
    expect(dispatched).to_be_visible(timeout=LIVE_MS)

    dispatched.get_by_test_id("recall").click()
    page.get_by_test_id("recall-reason").fill("wrong trade: needs the cable crew")
    page.get_by_test_id("recall-confirm").click()
    expect(page.get_by_test_id("recall-dialog")).to_be_hidden()
    expect(waiting_d).to_be_visible(timeout=LIVE_MS)
    expect(dispatched).to_have_count(0)
    vehicle = page.get_by_test_id("vehicles").locator(f'[data-vehicle-id="{crew.vehicle_id}"]')
    expect(vehicle.get_by_test_id("vehicle-queue")).to_have_text("—", timeout=LIVE_MS)
    expect(vehicle.get_by_test_id("vehicle-state")).to_have_text("standby")

    waiting_d.get_by_test_id("dispatch").click()
    page.get_by_test_id("candidate-dispatch").first.click()
    expect(dispatched).to_be_visible(timeout=LIVE_MS)
    expect(vehicle.get_by_test_id("vehicle-queue")).to_have_text(wo[:8], timeout=LIVE_MS)
    attempts = desk.ok(desk.get("dispatch", f"/v1/work-orders/{wo}"))["attempts"]
    assert [a["recall_reason"] for a in attempts] == ["wrong trade: needs the cable crew", None]
    assert page.evaluate("window.__same_page") is True, "the page was reloaded"
    assert errors == []
    shot(page, "console-recalled-and-dispatched-again")


def test_the_sign_in_form_refuses_a_bad_token_and_keeps_a_good_one_in_the_cookie(
    desk: Desk, context: BrowserContext, page: Page
) -> None:
    crew = desk.crew(co_located=True)
    base = desk.system.urls["dispatch"]
    page.goto(f"{base}/console/")
    form = page.get_by_test_id("signin-form")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("pick-center")).to_be_hidden()
    page.get_by_test_id("signin-token").fill("rd_nottoken_xyz")
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("refused")
    assert not [c for c in context.cookies() if c["name"] == "rd_token"]

    token = desk.system.keys.dispatcher(crew.repair_center_id)
    page.get_by_test_id("signin-token").fill(token)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("center-id")).to_have_text(crew.repair_center_id)
    expect(page.get_by_test_id("live-text")).to_have_text("live", timeout=LIVE_MS)
    [cookie] = [c for c in context.cookies() if c["name"] == "rd_token"]
    assert cookie["value"] == token
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    shot(page, "console-signed-in")

    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    assert not [c for c in context.cookies() if c["name"] == "rd_token"]
