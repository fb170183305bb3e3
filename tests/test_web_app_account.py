"""The driver's own things in the app, in a real browser: cards (rename, report lost), vehicles, the password,
the history's filters and CSV, and a session's receipt."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, Route, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, USER_PASSWORD, RunningServer
from tests.operating import authorization_status
from tests.screens import snap
from tests.support.pages import find_charger, sign_up
from tests.support.waiting import poll, wait_until

pytest_plugins = ["tests.browser"]


async def add_card(page: Page, label: str) -> str:
    card = "RF" + secrets.token_hex(5).upper()
    await page.get_by_role("link", name="Garage").click()
    await page.get_by_label("Card id (printed on the card)").fill(card)
    await page.get_by_label("Label", exact=True).fill(label)
    await page.get_by_role("button", name="Add card").click()
    await expect(page.locator(f'[data-card="{card}"]')).to_contain_text(label)
    return card


async def test_a_driver_renames_a_card_then_reports_it_lost_and_chargers_refuse_it(
    page: Page, sqlite_server: RunningServer
) -> None:
    await sign_up(page)
    card = await add_card(page, "Blue key fob")
    item = page.locator(f'[data-card="{card}"]')
    await page.get_by_role("button", name=f"Rename card {card}").click()
    await item.get_by_label("Label").fill("Work badge")
    await item.get_by_role("button", name="Save").click()
    await expect(item.locator("span").first).to_have_text(f"{card} Work badge · Accepted")

    lost = page.get_by_role("button", name=f"Report card {card} lost")
    await lost.click()
    dialog = page.get_by_role("dialog", name=f"Report card {card} lost?")
    await expect(dialog).to_contain_text("Only the operator can unblock it")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert await authorization_status(sqlite_server, card) == "Accepted"

    await lost.click()
    await snap(page, "app-card-lost")
    await dialog.get_by_role("button", name="Block the card").click()
    await expect(page.locator("#card-message")).to_have_text(f"Card {card} is blocked.")
    await expect(item).to_contain_text("Work badge · Blocked")
    # A blocked card stays: no Remove (it could be registered again as new) and no second report.
    await expect(item.get_by_role("button", name=f"Remove card {card}")).to_have_count(0)
    await expect(lost).to_have_count(0)
    assert await authorization_status(sqlite_server, card) == "Blocked"


async def test_a_driver_renames_a_vehicle_keeping_its_details(page: Page) -> None:
    await sign_up(page)
    await page.get_by_role("link", name="Garage").click()
    await page.get_by_label("Name", exact=True).fill("Family car")
    await page.get_by_label("Make and model").fill("Renault Zoe")
    await page.get_by_label("Plate").fill("AB-123-CD")
    await page.get_by_role("button", name="Add vehicle").click()
    await page.get_by_role("button", name="Rename Family car").click()
    await page.locator("#vehicle-list").get_by_label("Name").fill("Holiday car")
    await page.locator("#vehicle-list").get_by_role("button", name="Save").click()
    await expect(page.locator("#vehicle-list li > span:first-child")).to_have_text(
        ["Holiday car Renault Zoe · AB-123-CD"]
    )


async def add_vehicle(page: Page, name: str) -> None:
    await page.get_by_role("link", name="Garage").click()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_role("button", name="Add vehicle").click()
    await expect(page.locator("#vehicle-list")).to_contain_text(name)


async def test_a_driver_picks_the_vehicle_a_session_is_recorded_for_and_finds_it_by_that_vehicle(
    page: Page, sqlite_server: RunningServer
) -> None:
    await sign_up(page)
    await add_vehicle(page, "Family car")
    await add_vehicle(page, "Van")
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await page.get_by_role("link", name="Charge").click()
        await find_charger(page, charge_point_id)
        choice = page.get_by_label("Charging which vehicle")
        await expect(choice).to_have_value("")  # none named until the driver picks one
        await choice.select_option(label="Van")
        await page.get_by_role("button", name="Start charging").click()
        remote_start = await charger.wait_for_call("RemoteStartTransaction")
        started = await charger.start_transaction(1, remote_start.payload["id_tag"], meter_start=0)
        await charger.stop_transaction(started.transaction_id, 4_000)
    await page.get_by_role("link", name="History").click()
    filters = page.locator("#history-filters")
    for vehicle, listed in (("Van", 1), ("Family car", 0)):
        await filters.get_by_label("Vehicle").select_option(label=vehicle)
        await filters.get_by_role("button", name="Show").click()
        await expect(page.locator("#history-list [data-transaction]")).to_have_count(listed)
    # The next session starts with the same vehicle chosen.
    await page.get_by_role("link", name="Charge").click()
    await find_charger(page, charge_point_id)
    await expect(page.get_by_label("Charging which vehicle").locator("option:checked")).to_have_text("Van")


async def test_a_driver_sets_a_budget_per_session_and_removes_it(page: Page) -> None:
    await sign_up(page)
    await page.get_by_role("link", name="Garage").click()
    budget, message = page.locator("#budget"), page.locator("#budget-message")
    await budget.get_by_role("button", name="Save").click()
    await expect(message).to_have_text("Give a limit in kWh or in cost, or choose No budget.")
    await budget.get_by_label("At most, kWh").fill("2.5")
    await budget.get_by_role("button", name="Save").click()
    await expect(message).to_have_text("Budget saved: it applies to running sessions too.")
    await page.reload()  # read back from the API, not what the form still holds
    await expect(budget.get_by_label("At most, kWh")).to_have_value("2.5")
    await expect(budget.get_by_label("At most, cost")).to_have_value("")
    await budget.get_by_role("button", name="No budget").click()
    await expect(message).to_have_text("No budget: sessions run until you stop them.")
    await page.reload()
    await expect(budget.get_by_label("At most, kWh")).to_have_value("")
    await expect(budget.get_by_role("button", name="No budget")).to_be_hidden()


async def test_a_driver_changes_the_password_and_logs_in_with_the_new_one(page: Page) -> None:
    username = await sign_up(page)
    await page.get_by_role("link", name="Garage").click()
    await page.get_by_label("Current password").fill("not the password")
    await page.get_by_label("New password").fill("a new and long passphrase")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#password-message")).to_have_text("the old password is wrong")
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()  # still logged in
    await page.get_by_label("Current password").fill(USER_PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#password-message")).to_have_text("Password changed. Your other devices are logged out.")
    await page.get_by_role("button", name="Log out").click()
    login = page.locator("#app-login")
    await login.get_by_label("Username").fill(username)
    await login.get_by_label("Password").fill("a new and long passphrase")
    await login.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Start charging")).to_be_visible()


async def test_the_history_filters_by_day_exports_what_it_shows_and_prints_a_receipt(
    page: Page, sqlite_server: RunningServer
) -> None:
    await sign_up(page)
    id_tag = await page.evaluate("JSON.parse(localStorage.getItem('csms.app.tokens')).idTag")
    charge_point_id = await sqlite_server.add_charger()
    last_week = datetime.now(UTC) - timedelta(days=7)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        old = await charger.start_transaction(1, id_tag, meter_start=0, timestamp=last_week.isoformat())
        await charger.stop_transaction(
            old.transaction_id, 3_000, timestamp=(last_week + timedelta(hours=1)).isoformat()
        )
        today = await charger.start_transaction(1, id_tag, meter_start=3_000)
        await charger.stop_transaction(today.transaction_id, 10_500)
    await page.get_by_role("link", name="History").click()
    await expect(page.locator("#history-list li")).to_have_count(2)
    local_today = await page.evaluate("new Date().toLocaleDateString('en-CA')")  # YYYY-MM-DD, the browser's day
    filters = page.locator("#history-filters")
    await filters.get_by_label("From", exact=True).fill(local_today)
    await filters.get_by_label("To", exact=True).fill(local_today)
    await filters.get_by_role("button", name="Show").click()
    await expect(page.locator("#history-list li")).to_have_count(1)
    await expect(page.locator(f'[data-transaction="{today.transaction_id}"] .energy')).to_have_text("7.50 kWh")

    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download CSV").click()
    exported = await (await downloading.value).path()
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert [row["id"] for row in rows] == [str(today.transaction_id)]

    await page.locator(f'[data-transaction="{today.transaction_id}"] a').click()
    receipt = page.get_by_role("button", name="Receipt: print or save as PDF")
    # The browser's print dialog, which headless Chromium would hold open (and then refuse page.pdf()), is noted instead.
    await page.evaluate("window.print = () => { window.printAsked = true; }")
    await receipt.click()
    assert await page.evaluate("window.printAsked") is True
    await expect(page.locator("#receipt-printed")).not_to_be_empty()
    await page.emulate_media(media="print")
    await expect(page.locator(".receipt-head")).to_be_visible()
    await expect(page.locator("#record-facts")).to_contain_text("7.50 kWh")
    for printed_without in (page.locator(".tabbar"), page.locator(".topbar"), page.locator("#record-charts"), receipt):
        await expect(printed_without).to_be_hidden()
    assert (await page.pdf()).startswith(b"%PDF")  # what "save as PDF" makes of it


async def test_a_slow_read_shows_a_loading_bar_until_the_view_is_there(page: Page) -> None:
    await sign_up(page)
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)  # the history's read waits until the test lets it go on

    await page.route("**/api/transactions?*", hold)
    await page.get_by_role("link", name="History").click()
    await expect(page.locator("main")).to_have_attribute("aria-busy", "true")
    bar_opacity = "getComputedStyle(document.querySelector('main'), '::before').opacity"
    assert await poll(lambda: page.evaluate(bar_opacity), until=lambda opacity: opacity == "1") == "1"
    await wait_until(lambda: held)
    await held[0].continue_()
    await expect(page.locator("#history-list")).to_contain_text("No charging sessions yet.")
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")


async def test_a_budget_typed_while_the_garage_loads_is_not_erased_by_the_load(page: Page) -> None:
    await sign_up(page)
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)  # the budget's read waits until the driver has typed

    await page.route("**/api/me/budget", hold)
    await page.get_by_role("link", name="Garage").click()
    await wait_until(lambda: held)
    await page.locator("#budget").get_by_label("At most, kWh").fill("7")
    await held[0].continue_()
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
    await expect(page.locator("#budget").get_by_label("At most, kWh")).to_have_value("7")
