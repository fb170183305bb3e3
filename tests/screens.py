"""Helpers for the browser tests: screenshots for docs/screens.md, and page-layout checks.

Set CSMS_SCREENSHOTS=docs/screenshots (make screenshots) to save a screenshot of every page the tests
name with `snap`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Page

SCREENSHOTS = os.environ.get("CSMS_SCREENSHOTS")


async def snap(page: Page, name: str) -> None:
    """Save a screenshot as docs/screenshots/NAME-WIDTH.png when CSMS_SCREENSHOTS asks for them."""
    if not SCREENSHOTS:
        return
    width = page.viewport_size["width"] if page.viewport_size else 0
    await page.screenshot(path=Path(SCREENSHOTS) / f"{name}-{width}.png", full_page=True)


async def overflows_horizontally(page: Page) -> bool:
    """Whether the page is wider than the window: at 360 px nothing but a table may scroll sideways."""
    widths: Any = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return bool(widths[0] > widths[1])


async def check_page(page: Page, heading: str, name: str | None) -> None:
    """The page shows `heading`, fits the window, and is saved as a screenshot when asked (and `name` is given)."""
    from playwright.async_api import expect

    await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
    assert not await overflows_horizontally(page), f"{name or heading} is wider than {page.viewport_size}"
    if name:
        await snap(page, name)


async def snap_element(page: Page, selector: str, name: str) -> None:
    """Save one card as docs/screenshots/NAME-WIDTH.png when CSMS_SCREENSHOTS asks for screenshots."""
    if SCREENSHOTS:
        width = page.viewport_size["width"] if page.viewport_size else 0
        await page.locator(selector).screenshot(path=Path(SCREENSHOTS) / f"{name}-{width}.png")
