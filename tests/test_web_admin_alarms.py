"""Alarms in the console, in a real browser: the overview counts faulted and unavailable chargers and links to
them; the chargers list is searched, filtered by state and sorted, a page at a time, with each charger's fault; an
operator finds a faulted charger and resets it."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import Page, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.screens import check_page
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]


async def test_an_operator_finds_a_faulted_charger_from_the_overview_and_resets_it(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    vendor = f"Alarm{secrets.token_hex(3)}"  # this test's chargers, among every other test's on the node
    faulted, healthy = sorted([await sqlite_server.add_charger(), await sqlite_server.add_charger()])
    await log_in_as_admin(page, sqlite_server)
    async with (
        connect_charger(sqlite_server.ws_url, faulted, CHARGER_PASSWORD) as broken,
        connect_charger(sqlite_server.ws_url, healthy, CHARGER_PASSWORD) as working,
    ):
        await broken.boot(vendor=vendor, model="Duo")
        await working.boot(vendor=vendor, model="Duo")
        await broken.status(1, "Faulted", error_code="GroundFailure", vendor_error_code="E-17", info="RCD tripped")
        await working.status(1, "Available")
        await broken.heartbeat()  # answered after the status is stored
        await working.heartbeat()
        await page.reload()
        faulted_count = page.get_by_role("link", name="Faulted")
        await expect(faulted_count).not_to_contain_text("0")  # at least this one
        await expect(faulted_count).to_have_class(re.compile(r"\braised\b"))  # shown in the alarm colour
        await faulted_count.click()
        await expect(page).to_have_url(f"{sqlite_server.http_url}/admin#/chargers?state=faulted")
        await expect(page.locator("#charger-search").get_by_label("State")).to_have_value("faulted")
        await expect(page.get_by_role("link", name=faulted)).to_be_visible()
        await expect(page.locator(f'[data-problems="{faulted}"]')).to_have_text("1: GroundFailure · E-17 · RCD tripped")
        await expect(page.get_by_role("link", name=healthy)).to_have_count(0)

        # The search narrows it to this test's chargers: both, a page of one at a time in the API's order.
        search = page.locator("#charger-search")
        await search.get_by_label("Id, vendor, model or serial").fill(vendor.lower())
        await search.get_by_label("State").select_option("")
        await search.get_by_label("Sort").select_option("-charge_point_id")
        await search.get_by_role("button", name="Search").click()
        rows = page.locator("#chargers-table tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text(healthy)
        await expect(rows.nth(1)).to_contain_text(faulted)
        await page.reload()  # the filters are in the address
        await expect(search.get_by_label("Sort")).to_have_value("-charge_point_id")
        await expect(rows).to_have_count(2)
        await check_page(page, "Chargers", "admin-chargers-filtered")

        # The fault clears live: the list reads the charger again.
        await broken.status(1, "Available")
        await expect(page.locator(f'[data-problems="{faulted}"]')).to_have_text("\u2013")  # the dash of nothing to show
        await broken.status(1, "Faulted", error_code="GroundFailure", vendor_error_code="E-17", info="RCD tripped")
        await expect(page.locator(f'[data-problems="{faulted}"]')).to_contain_text("GroundFailure")

        await page.get_by_role("link", name=faulted).click()
        await page.get_by_label("Reset type").select_option("Hard")
        await page.get_by_role("button", name="Reset", exact=True).click()
        await (
            page.get_by_role("dialog", name=f"Hard reset of {faulted}?")
            .get_by_role("button", name="Reset the charger")
            .click()
        )
        await expect(page.locator("#command-result")).to_have_text("Reset: Accepted")
        assert (await broken.wait_for_call("Reset")).payload == {"type": "Hard"}
