"""One order through both faces: a dispatcher takes in and dispatches, in the console, an order
issued nine minutes earlier (so BC, 4 minutes, is over its limit: the repair center's), and an
auditor opens that very order on the desk and sees the breach the test caused, with its party
and evidence."""

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import shot, signed_in
from tests.browser.test_console import LIVE_MS, open_console
from tests.support.desk import Desk, ago

pytestmark = pytest.mark.browser


def test_the_order_a_dispatcher_took_in_late_shows_on_the_desk_with_its_party(
    desk: Desk, context: BrowserContext, page: Page
) -> None:
    crew = desk.crew(co_located=True)
    open_console(desk, context, page, crew.repair_center_id)
    wo = desk.call(ago(10))
    desk.issue(wo, ago(9), crew)
    waiting_c = page.get_by_test_id("waiting-c").locator(f'[data-work-order-id="{wo}"]')
    expect(waiting_c.get_by_test_id("time-left")).to_contain_text("overdue", timeout=LIVE_MS)
    waiting_c.get_by_test_id("receive").click()
    waiting_d = page.get_by_test_id("waiting-d").locator(f'[data-work-order-id="{wo}"]')
    expect(waiting_d).to_be_visible(timeout=LIVE_MS)
    waiting_d.get_by_test_id("dispatch").click()
    page.get_by_test_id("candidates").get_by_test_id("candidate-dispatch").first.click()
    dispatched = page.get_by_test_id("dispatched").locator(f'[data-work-order-id="{wo}"]')
    expect(dispatched).to_contain_text(crew.vehicle_id, timeout=LIVE_MS)
    shot(page, "console-late-order-dispatched")

    judged = desk.timeline(wo, set("ABCD"))
    bc = next(s for s in judged["segments"] if s["segment"] == "BC")
    assert (bc["status"], bc["responsible"]) == ("breached", "repair_center")
    assert bc["evidence"], "a breach names its evidence"

    desk_page = context.new_page()
    base = desk.system.urls["timeline"]
    signed_in(context, base, desk.system.keys.auditor)
    desk_page.goto(f"{base}/desk/#/order/{wo}")
    finding = desk_page.get_by_test_id("finding-BC")
    expect(finding).to_have_attribute("data-status", "breached", timeout=LIVE_MS)
    expect(finding).to_have_attribute("data-party", "repair_center")
    expect(finding.get_by_test_id("evidence")).to_contain_text(bc["evidence"])
    expect(desk_page.get_by_test_id("point-D")).to_have_attribute("data-set", "yes")
    shot(desk_page, "desk-the-order-the-console-dispatched")
