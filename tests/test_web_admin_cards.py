"""The console's Cards view in a real browser: an operator finds a driver's card, blocks it (chargers refuse it),
unblocks it, removes another and registers a new one; each change asks first."""

from __future__ import annotations

import secrets

import httpx
from playwright.async_api import Page, expect

from tests.conftest import RunningServer, bearer, signup
from tests.operating import authorization_status
from tests.screens import check_page
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]


async def test_an_operator_finds_a_drivers_card_blocks_it_unblocks_it_and_removes_another(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    owner = f"driver-{secrets.token_hex(3)}"
    work, spare = (f"C{secrets.token_hex(4).upper()}" for _ in range(2))
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        driver = bearer(await signup(http, owner))
        await http.post("/api/me/id_tags", json={"id_tag": work, "label": "Work badge"}, headers=driver)
        await http.post("/api/me/id_tags", json={"id_tag": spare, "label": "Spare"}, headers=driver)
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Cards").click()
    search = page.locator("#card-search")
    await search.get_by_label("Card, label or owner").fill(owner)
    await search.get_by_role("button", name="Search").click()
    row = page.locator(f'[data-card="{work}"]')
    await expect(row).to_contain_text(f"{work}Work badge{owner}Accepted")
    await expect(page.locator("#cards-table tbody tr")).to_have_count(3)  # the app's own tag, and two cards
    await check_page(page, "Cards", "admin-cards")

    await page.get_by_role("button", name=f"Block card {work}").click()
    dialog = page.get_by_role("dialog", name=f"Block card {work}?")
    await expect(dialog).to_contain_text("Chargers will refuse this card")
    await dialog.get_by_role("button", name="Block the card").click()
    await expect(row).to_contain_text("Blocked")
    assert await authorization_status(sqlite_server, work) == "Blocked"
    await search.get_by_label("Status").select_option("Blocked")
    await search.get_by_role("button", name="Search").click()
    await expect(page.locator("#cards-table tbody tr")).to_have_count(1)

    await page.get_by_role("button", name=f"Unblock card {work}").click()
    await (
        page.get_by_role("dialog", name=f"Unblock card {work}?").get_by_role("button", name="Unblock the card").click()
    )
    await expect(page.locator("#cards-message")).to_have_text(f"Card {work} updated.")
    assert await authorization_status(sqlite_server, work) == "Accepted"

    await search.get_by_label("Status").select_option("")
    await search.get_by_role("button", name="Search").click()
    await page.get_by_role("button", name=f"Remove card {spare}").click()
    removal = page.get_by_role("dialog", name=f"Remove card {spare}?")
    await removal.get_by_role("button", name="Cancel").click()
    await expect(page.locator(f'[data-card="{spare}"]')).to_be_visible()
    await page.get_by_role("button", name=f"Remove card {spare}").click()
    await removal.get_by_role("button", name="Remove the card").click()
    await expect(page.locator(f'[data-card="{spare}"]')).to_have_count(0)
    assert await authorization_status(sqlite_server, spare) == "Invalid"


async def test_an_operator_registers_a_card_of_no_account(page: Page, sqlite_server: RunningServer) -> None:
    card = f"F{secrets.token_hex(4).upper()}"
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Cards").click()
    form = page.locator("#register-card")
    await form.get_by_label("Card id").fill(card)
    await form.get_by_label("Label").fill("Fleet van 3")
    await form.get_by_role("button", name="Register card").click()
    await expect(page.locator("#cards-message")).to_have_text(f"Card {card} registered.")
    await expect(page.locator(f'[data-card="{card}"]')).to_contain_text(f"{card}Fleet van 3no accountAccepted")
    assert await authorization_status(sqlite_server, card) == "Accepted"
