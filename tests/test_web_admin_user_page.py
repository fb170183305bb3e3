"""The console's user page in a real browser: an operator finds who charged on a charger, opens that driver's
page (account, cards, vehicles, budget, the session with its cost), blocks and deletes the account, each asked
first."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import priced_charger
from tests.screens import check_page
from tests.support.console_drivers import driver_with_card, staff_headers
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]


async def test_an_operator_finds_who_charged_on_a_charger_and_opens_their_page(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        driver = await driver_with_card(http)
        vehicle = {"name": "Family car", "make": "Renault", "model": "Zoe", "plate": "AB-123-CD"}
        await http.post("/api/me/vehicles", json=vehicle, headers=driver.headers)
        await http.put("/api/me/budget", json={"max_energy_wh": 30_000}, headers=driver.headers)
        charge_point_id = await priced_charger(sqlite_server, http, await staff_headers(sqlite_server, http))
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        started = await charger.start_transaction(1, driver.card, meter_start=0)
        await charger.stop_transaction(started.transaction_id, 9_000)
    transaction_id = int(started.transaction_id)

    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Transactions").click()
    await page.locator("#transaction-filters").get_by_label("Charger").fill(charge_point_id)
    await page.get_by_role("button", name="Filter").click()
    row = page.locator(f'#transactions-table tr[data-transaction="{transaction_id}"]')
    await expect(row).to_contain_text("€3.24")  # 9 kWh at 0.30, 20 % tax
    await row.get_by_role("link", name=driver.username).click()

    await expect(page.get_by_role("heading", name=f"User {driver.username}")).to_be_visible()
    await expect(page.locator("#user-facts")).to_contain_text("Active")
    await expect(page.locator(f'#user-cards tr[data-card="{driver.card}"]')).to_contain_text("Work badgeAccepted")
    await expect(page.locator("#user-vehicles")).to_contain_text("Family car Renault · Zoe · AB-123-CD")
    await expect(page.locator("#user-budget")).to_have_text("Charging stops at 30.00 kWh.")
    session = page.locator(f'#user-sessions tr[data-transaction="{transaction_id}"]')
    await expect(session).to_contain_text(f"{charge_point_id} / 1")
    await expect(session).to_contain_text("9.00 kWh€3.24Done")
    await check_page(page, f"User {driver.username}", "admin-user")
    await session.get_by_role("link", name=str(transaction_id)).click()
    await expect(page.get_by_role("heading", name=f"Charging session {transaction_id}")).to_be_visible()


async def test_an_operator_blocks_and_deletes_an_account_from_its_page_each_asked_first(
    page: Page, sqlite_server: RunningServer
) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        driver = await driver_with_card(http)
        staff = await staff_headers(sqlite_server, http)
        await log_in_as_admin(page, sqlite_server)
        await page.get_by_role("link", name="Users").click()
        await page.get_by_label("Search by username").fill(driver.username)
        await page.get_by_role("button", name="Search", exact=True).click()
        await page.locator(f'tr[data-user="{driver.username}"]').get_by_role("link", name=driver.username).click()
        facts = page.locator("#user-facts")

        await page.get_by_role("button", name=f"Block {driver.username}").click()
        block = page.get_by_role("dialog", name=f"Block {driver.username}?")
        await block.get_by_role("button", name="Cancel").click()
        await expect(facts).to_contain_text("Active")
        await page.get_by_role("button", name=f"Block {driver.username}").click()
        await block.get_by_role("button", name="Block the account").click()
        await expect(facts).to_contain_text("Blocked")
        account = await http.get(f"/api/admin/users/{driver.user_id}", headers=staff)
        assert account.json()["is_active"] is False

        await page.get_by_role("button", name=f"Delete {driver.username}").click()
        removal = page.get_by_role("dialog", name=f"Delete {driver.username}?")
        await expect(removal).to_contain_text("Its charging records stay")
        await removal.get_by_role("button", name="Cancel").click()
        assert (await http.get(f"/api/admin/users/{driver.user_id}", headers=staff)).status_code == 200
        await page.get_by_role("button", name=f"Delete {driver.username}").click()
        await removal.get_by_role("button", name="Delete the account").click()
        await expect(page.locator("#users-message")).to_have_text(f"{driver.username} deleted.")
        assert (await http.get(f"/api/admin/users/{driver.user_id}", headers=staff)).status_code == 404
