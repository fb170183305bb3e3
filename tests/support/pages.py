"""Getting into the pages as their users do: an admin logging in to the console, a driver signing up in the app."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.conftest import USER_PASSWORD, RunningServer, create_account_with_role, new_username


async def log_in_as_admin(page: Page, server: RunningServer, role: str = "admin") -> str:
    username, password = await create_account_with_role(server, role)
    await page.goto("/admin")
    await page.get_by_label("Username", exact=True).fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return username


async def sign_up(page: Page) -> str:
    username = new_username("driver")
    await page.goto("/app")
    signup = page.locator("#app-signup")
    await signup.get_by_label("Username").fill(username)
    await signup.get_by_label("Password").fill(USER_PASSWORD)
    await signup.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Start charging")).to_be_visible()
    return username


async def find_charger(page: Page, charge_point_id: str, connector_id: int = 1) -> None:
    """In the app's Charge view: type the charger id and connector, as a driver without the sticker does."""
    await page.get_by_label("Charger id").fill(charge_point_id)
    await page.get_by_label("Connector").fill(str(connector_id))
    await page.get_by_role("button", name="Find charger").click()
    await expect(page.locator("#paired-title")).to_have_text(f"{charge_point_id} · connector {connector_id}")
