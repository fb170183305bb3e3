"""Browser fixtures (a pytest plugin): one headless Chromium per test session, a fresh context per test.

Debian's Chromium at /usr/bin/chromium, driven by Playwright; no browser is ever downloaded. Test
modules load it with `pytest_plugins = ["tests.browser"]` and take their helpers from tests.screens.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import RunningServer, dependency_missing

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
LIVE_TIMEOUT_MS = 5000


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        dependency_missing("the playwright package (make install-dev)")
    if not os.access(CHROMIUM, os.X_OK):
        dependency_missing(f"Chromium at {CHROMIUM} (make browser)")
    async with async_playwright() as playwright:
        # --no-sandbox: CI and containers run the tests as root, where Chromium's sandbox cannot start.
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


# The browser's language for each of the pages' languages (the pages pick theirs from navigator.languages).
LOCALES = {"en": "en-US", "ja": "ja-JP"}


async def open_page(
    browser: Browser, server: RunningServer, viewport: dict[str, int], locale: str = "en-US"
) -> tuple[Page, list[str]]:
    """A page in a fresh context (own storage), and the list its JavaScript errors are collected into."""
    from playwright.async_api import expect

    expect.set_options(timeout=LIVE_TIMEOUT_MS)
    # A fixed locale: the pages' language, money and dates (Intl) follow the browser's, and the tests read them.
    context = await browser.new_context(base_url=server.http_url, viewport=viewport, locale=locale)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # A refused request logs "Failed to load resource"; the tests that cause one assert what the page says.
    def keep_script_error(message: ConsoleMessage) -> None:
        if _is_script_error(message):
            errors.append(message.text)

    page.on("console", keep_script_error)
    return page, errors


def _is_script_error(message: ConsoleMessage) -> bool:
    return message.type == "error" and not message.text.startswith("Failed to load resource")


@pytest.fixture
async def page(browser: Browser, sqlite_server: RunningServer) -> AsyncIterator[Page]:
    """A desktop-sized page; the test fails if the page's JavaScript threw or logged an error."""
    opened, errors = await open_page(browser, sqlite_server, DESKTOP)
    yield opened
    await opened.context.close()
    assert errors == [], "the page logged JavaScript errors"


@pytest.fixture
async def phone(browser: Browser, sqlite_server: RunningServer) -> AsyncIterator[Page]:
    """A page 360 px wide, the narrowest phone csms supports."""
    opened, errors = await open_page(browser, sqlite_server, PHONE)
    yield opened
    await opened.context.close()
    assert errors == [], "the page logged JavaScript errors"


@pytest.fixture(params=["phone", "desktop"])
async def screen(request: pytest.FixtureRequest, browser: Browser, sqlite_server: RunningServer) -> AsyncIterator[Page]:
    """The page at 360 px and at desktop width in turn."""
    opened, errors = await open_page(browser, sqlite_server, PHONE if request.param == "phone" else DESKTOP)
    yield opened
    await opened.context.close()
    assert errors == [], "the page logged JavaScript errors"


@pytest.fixture(params=list(LOCALES))
def language(request: pytest.FixtureRequest) -> str:
    """Each language the pages have a catalog for, in turn: "en", "ja"."""
    return str(request.param)


@pytest.fixture(params=["phone", "desktop"])
async def localized_screen(
    request: pytest.FixtureRequest, browser: Browser, sqlite_server: RunningServer, language: str
) -> AsyncIterator[Page]:
    """The page at 360 px and at desktop width, in a browser whose language is `language`."""
    viewport = PHONE if request.param == "phone" else DESKTOP
    opened, errors = await open_page(browser, sqlite_server, viewport, LOCALES[language])
    yield opened
    await opened.context.close()
    assert errors == [], "the page logged JavaScript errors"


PageOpener = Callable[[RunningServer, str], contextlib.AbstractAsyncContextManager["Page"]]


@pytest.fixture
def page_on(browser: Browser) -> PageOpener:
    """Opens a page on a node of the test's own (tests.conftest.node_with), closed before the node stops (its
    live stream would keep the node waiting): `async with page_on(node, "phone") as page:`, or "desktop".
    The page fails the test if its JavaScript threw or logged an error, as `page` does."""

    @contextlib.asynccontextmanager
    async def open_on(server: RunningServer, width: str) -> AsyncIterator[Page]:
        opened, errors = await open_page(browser, server, PHONE if width == "phone" else DESKTOP)
        try:
            yield opened
        finally:
            await opened.context.close()
        assert errors == [], "the page logged JavaScript errors"

    return open_on
