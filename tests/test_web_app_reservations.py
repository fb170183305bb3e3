"""The app's reservations in a real browser: a driver finds a simulated 1.6 charger, reserves a connector (the
charger gets ReserveNow), sees the reservation with its expiry, and cancels it after being asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.conftest import RunningServer, bearer, login_as
from tests.operating import online_charger, payloads_received
from tests.screens import check_page
from tests.support.pages import find_charger, sign_up

pytest_plugins = ["tests.browser"]


async def shown_time(page: Page, iso: str) -> str:
    """A time as the page writes it (the browser's locale and time zone)."""
    text: str = await page.evaluate(
        "(iso) => new Date(iso).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit' })", iso
    )
    return text


async def reservations_of(server: RunningServer, username: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        found: list[dict[str, Any]] = (
            await http.get("/api/reservations", headers=bearer(await login_as(http, username)))
        ).json()
        return found


async def test_a_driver_reserves_a_connector_sees_its_expiry_and_cancels_it_after_being_asked(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    async with online_charger(sqlite_server) as charger:
        driver = await sign_up(page)
        await find_charger(page, charger.id)
        before = datetime.now(UTC)
        await page.get_by_label("Hold it for").select_option("30")
        await page.get_by_role("button", name="Reserve this connector").click()

        held = page.locator("#my-reservation")
        await expect(held).to_contain_text(f"{charger.id} · connector 1")
        (reserve_now,) = payloads_received(charger, "ReserveNow")
        assert reserve_now["connectorId"] == 1
        expiry = datetime.fromisoformat(reserve_now["expiryDate"].replace("Z", "+00:00"))
        assert timedelta(minutes=29) < expiry - before < timedelta(minutes=31)
        await expect(page.locator("#reservation-expiry")).to_have_text(
            f"Held for you until {await shown_time(page, reserve_now['expiryDate'])}."
        )
        await check_page(page, "Start charging", "app-reservation")
        await page.emulate_media(color_scheme="dark")
        await check_page(page, "Start charging", "app-reservation-dark")

        where = f"{charger.id} · connector 1"
        await held.get_by_role("button", name="Cancel the reservation").click()
        dialog = page.get_by_role("dialog", name=f"Cancel the reservation at {where}?")
        await expect(dialog).to_contain_text("The connector is freed")
        await dialog.get_by_role("button", name="Cancel", exact=True).click()
        await expect(dialog).to_be_hidden()
        await expect(held).to_be_visible()
        assert payloads_received(charger, "CancelReservation") == []

        await held.get_by_role("button", name="Cancel the reservation").click()
        await dialog.get_by_role("button", name="Cancel the reservation").click()
        await expect(page.locator("#reservation-message")).to_have_text(f"The reservation at {where} is cancelled.")
        await expect(held).to_be_hidden()
        assert payloads_received(charger, "CancelReservation") == [{"reservationId": reserve_now["reservationId"]}]

        mine = await reservations_of(sqlite_server, driver)
        assert [(each["id"], each["status"]) for each in mine] == [(reserve_now["reservationId"], "Cancelled")]
