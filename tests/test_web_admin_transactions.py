"""The console's Transactions view in a real browser: the cost and the driver's name on each session, filters by
card and state, sort by energy, and a running session stopped remotely, asked first."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import payloads_received, priced_charger
from tests.screens import check_page
from tests.support.console_drivers import StopsWhenAsked, driver_with_card, staff_headers
from tests.support.pages import log_in_as_admin
from tests.support.waiting import poll

pytest_plugins = ["tests.browser"]


async def test_an_operator_filters_transactions_by_card_and_state_and_sorts_by_energy(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        alice, bob = await driver_with_card(http), await driver_with_card(http)
        charge_point_id = await priced_charger(sqlite_server, http, await staff_headers(sqlite_server, http))
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        first = await charger.start_transaction(1, alice.card, meter_start=0)
        await charger.stop_transaction(first.transaction_id, 2_000)
        second = await charger.start_transaction(1, bob.card, meter_start=2_000)
        await charger.stop_transaction(second.transaction_id, 7_000)
        running = await charger.start_transaction(2, alice.card, meter_start=0)
        await log_in_as_admin(page, sqlite_server)
        await page.get_by_role("link", name="Transactions").click()
        filters = page.locator("#transaction-filters")
        await filters.get_by_label("Charger").fill(charge_point_id)
        rows = page.locator("#transactions-table tbody tr")

        await filters.get_by_label("Sort").select_option("energy")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(3)
        ids = [str(t.transaction_id) for t in (second, first, running)]
        await expect(rows.locator("td:first-child")).to_have_text(ids)
        await expect(rows.first).to_contain_text(f"{bob.username}{bob.card}")
        await expect(rows.first).to_contain_text("5.00 kWh€1.80Done")

        await filters.get_by_label("Card").fill(alice.card)
        await page.get_by_role("button", name="Filter").click()
        await expect(rows.locator("td:first-child")).to_have_text(
            [str(first.transaction_id), str(running.transaction_id)]
        )
        await filters.get_by_label("State").select_option("running")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(f"{alice.username}{alice.card}")
        await expect(rows.first.locator(".badge")).to_have_text("Charging")
        await check_page(page, "Transactions", "admin-transactions-filtered")


async def test_an_operator_stops_a_running_session_after_cancelling_once(
    page: Page, sqlite_server: RunningServer
) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        driver = await driver_with_card(http)
        staff = await staff_headers(sqlite_server, http)
        charge_point_id = await priced_charger(sqlite_server, http, staff)
        async with connect_charger(
            sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD, charger_class=StopsWhenAsked
        ) as charger:
            await charger.boot()
            started = await charger.start_transaction(1, driver.card, meter_start=0)
            transaction_id = int(started.transaction_id)
            await log_in_as_admin(page, sqlite_server)
            await page.get_by_role("link", name="Transactions").click()
            await page.locator("#transaction-filters").get_by_label("Charger").fill(charge_point_id)
            await page.get_by_role("button", name="Filter").click()
            row = page.locator(f'#transactions-table tr[data-transaction="{transaction_id}"]')
            await expect(row.locator(".badge")).to_have_text("Charging")

            stop = row.get_by_role("button", name=f"Stop session {transaction_id}")
            await stop.click()
            dialog = page.get_by_role("dialog", name=f"Stop session {transaction_id}?")
            await expect(dialog).to_contain_text(f"charger {charge_point_id}")
            await dialog.get_by_role("button", name="Cancel").click()
            await expect(page).to_have_url(f"{sqlite_server.http_url}/admin#/transactions")  # the row was not opened
            assert payloads_received(charger, "RemoteStopTransaction") == []

            await stop.click()
            await dialog.get_by_role("button", name="Stop charging").click()
            await expect(page.locator("#transactions-message")).to_have_text(
                f"Stop of session {transaction_id} asked: the charger answered Accepted."
            )
            await expect(row.locator(".badge")).to_have_text("Done")
            assert payloads_received(charger, "RemoteStopTransaction") == [{"transactionId": transaction_id}]

        async def record() -> dict[str, object]:
            response = await http.get(f"/api/transactions/{transaction_id}", headers=staff)
            body: dict[str, object] = response.json()
            return body

        stopped = await poll(record, lambda body: body["stop_timestamp"] is not None)
        assert (stopped["is_active"], stopped["stop_reason"], stopped["energy_wh"]) == (False, "Remote", 4_000)
