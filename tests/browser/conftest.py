"""A real browser for the console and desk tests: Debian's chromium, driven by Playwright.

Playwright's own browser download cannot be reached here, so it is pointed at the system's
executable (``CHROMIUM``, default ``/usr/bin/chromium``). Each test leaves a screenshot under
``SCREENSHOTS_DIR`` (default ``.local/screenshots``, not committed) via ``shot``.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ".local/screenshots"))
TOKEN_COOKIE = "rd_token"
"""The cookie the pages' sign-in form sets; the services read it where no bearer header is."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: while Playwright's sync API runs, its event loop is this
    # thread's running loop, and the later modules' ``asyncio.run`` would refuse to start.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1440, "height": 900})
    yield opened
    opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    return opened


def signed_in(context: BrowserContext, base_url: str, token: str) -> None:
    """Hold ``token`` for every page of ``context`` on ``base_url``, as the sign-in form would."""
    context.add_cookies(
        [{"name": TOKEN_COOKIE, "value": token, "url": base_url, "sameSite": "Strict"}]
    )


def shot(page: Page, name: str) -> Path:
    """Write a full-page screenshot for a person to look at; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
