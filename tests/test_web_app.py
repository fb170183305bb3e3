"""The charging web app in a real browser: signup, start on a simulated charger, live kWh, stop, history."""

from __future__ import annotations

import secrets

import httpx
from playwright.async_api import Page, expect

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
)
from tests.screens import check_page, snap
from tests.support.pages import find_charger, sign_up

pytest_plugins = ["tests.browser"]


async def begin_transaction(charger: SimulatedCharger, *, meter_start: int) -> int:
    """What a charger does after accepting RemoteStartTransaction: StartTransaction, then Charging."""
    remote_start = await charger.wait_for_call("RemoteStartTransaction")
    await charger.status(1, "Preparing")
    started = await charger.start_transaction(1, remote_start.payload["id_tag"], meter_start=meter_start)
    await charger.status(1, "Charging")
    return int(started.transaction_id)


async def price_charger_at_forty_cents_a_kwh(server: RunningServer, charge_point_id: str) -> None:
    username, password = await create_account_with_role(server, "admin")
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        admin = bearer(await login_as(http, username, password))
        body = {"name": "web test", "currency": "EUR", "price_per_kwh": "0.40"}
        tariff = (await http.post("/api/admin/tariffs", json=body, headers=admin)).json()
        assignment = {"tariff_id": tariff["id"], "charge_point_id": charge_point_id}
        assert (await http.post("/api/admin/tariff_assignments", json=assignment, headers=admin)).status_code == 201


async def test_a_driver_signs_up_charges_watches_the_kwh_rise_stops_and_finds_the_record(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    await price_charger_at_forty_cents_a_kwh(sqlite_server, charge_point_id)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await sign_up(page)
        await find_charger(page, charge_point_id)
        await expect(page.locator("#paired-status")).to_have_text("Available")
        await expect(page.locator("#paired-price")).to_have_text("€0.40 per kWh · no tax")
        await page.get_by_role("button", name="Start charging").click()
        transaction_id = await begin_transaction(charger, meter_start=10_000)

        energy = page.locator("#live-energy")
        await expect(energy).to_have_text("0.00 kWh")
        await charger.meter_values(1, transaction_id, 10_500)
        await expect(energy).to_have_text("0.50 kWh")
        await expect(page.locator("#live-power")).to_have_text("7.4 kW")
        await expect(page.locator("#live-cost")).to_have_text("€0.20")
        await charger.meter_values(1, transaction_id, 12_250)
        await expect(energy).to_have_text("2.25 kWh")
        await expect(page.locator("#live-cost")).to_have_text("€0.90")

        await page.get_by_role("button", name="Stop charging").click()
        await charger.wait_for_call("RemoteStopTransaction")
        await charger.stop_transaction(transaction_id, 12_500)
        await expect(page.locator("#session-message")).to_have_text(
            "Charging finished: 2.50 kWh, €1.00. The session is in your history."
        )

        await page.get_by_role("link", name="History").click()
        record = page.locator(f'[data-transaction="{transaction_id}"]')
        await expect(record.locator(".energy")).to_have_text("2.50 kWh")
        await expect(record.locator(".cost")).to_have_text("€1.00")
        await record.get_by_role("link").click()
        await expect(page.get_by_role("heading", name=f"Charging session {transaction_id}")).to_be_visible()
        await expect(page.locator("#record-facts")).to_contain_text("Cost€1.00")
        breakdown = page.locator("#record-cost")
        await expect(breakdown.get_by_role("heading", name="Cost")).to_be_visible()
        for term, amount in (("Energy", "€1.00"), ("Net", "€1.00"), ("Tax", "€0.00"), ("Total", "€1.00")):
            await expect(breakdown.locator(f"dt:text-is('{term}') + dd")).to_have_text(amount)
        await expect(page.get_by_role("img", name="Energy delivered over time")).to_be_visible()
        await snap(page, "app-record-cost")


async def test_the_app_shows_why_a_taken_or_faulted_connector_cannot_start(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Faulted", error_code="GroundFailure")
        await charger.status(2, "Charging")  # an RFID card's session, say
        await charger.status(3, "Available")
        await sign_up(page)
        start = page.get_by_role("button", name="Start charging")
        await find_charger(page, charge_point_id, 1)
        await expect(page.locator("#paired-status")).to_have_text("Faulted")
        await expect(start).to_be_disabled()
        await expect(start).to_have_accessible_description(
            f"Connector 1 of {charge_point_id} is out of order (Faulted): you cannot start here now."
        )
        await check_page(page, "Start charging", "app-charge-refused")
        await find_charger(page, charge_point_id, 2)
        await expect(page.locator("#start-why")).to_have_text(
            f"Connector 2 of {charge_point_id} is in use (Charging): you cannot start here now."
        )
        await expect(start).to_be_disabled()
        await find_charger(page, charge_point_id, 3)
        await expect(start).to_be_enabled()
        await expect(page.locator("#start-why")).to_be_hidden()
        # The connector faults after pairing: the start is refused at once, and the page says why.
        await charger.status(3, "Faulted", error_code="GroundFailure")
        await start.click()
        await expect(page.locator("#charge-message")).to_have_text(
            f"Not started: connector 3 of {charge_point_id} is out of order (Faulted)."
        )
        await expect(start).to_be_disabled()


async def charge_at_the_charger(charger: SimulatedCharger, id_tag: str) -> None:
    """A finished session with the driver's idTag, and a second one still running."""
    for readings in ([0, 3_000, 7_000], [7_000, 8_200]):
        started = await charger.start_transaction(1, id_tag, meter_start=readings[0])
        await charger.status(1, "Charging")
        for reading in readings[1:]:
            await charger.meter_values(1, started.transaction_id, reading)
        if readings[0] == 0:
            await charger.stop_transaction(started.transaction_id, readings[-1])


async def test_every_app_page_fits_a_phone_and_a_desktop(screen: Page, sqlite_server: RunningServer) -> None:
    page = screen
    await page.goto("/app")
    await check_page(page, "Charge your car with csms", "app-login")
    await sign_up(page)
    id_tag = await page.evaluate("JSON.parse(localStorage.getItem('csms.app.tokens')).idTag")
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await find_charger(page, charge_point_id)
        await check_page(page, "Start charging", "app-charge")
        await charge_at_the_charger(charger, id_tag)
        await page.get_by_role("link", name="Session").click()
        await expect(page.locator("#live-energy")).to_have_text("1.20 kWh")
        await check_page(page, "Charging", "app-session")
        await page.get_by_role("link", name="History").click()
        await check_page(page, "Charging history", "app-history")
        await page.locator("#history-list a").last.click()
        await expect(page.get_by_role("img", name="Energy delivered over time")).to_be_visible()
        await snap(page, "app-record")
        await page.get_by_role("link", name="Garage").click()
        await page.get_by_label("Name", exact=True).fill("Family car")
        await page.get_by_label("Make and model").fill("Renault Zoe")
        await page.get_by_role("button", name="Add vehicle").click()
        await page.get_by_label("Card id (printed on the card)").fill(secrets.token_hex(5).upper())
        await page.get_by_label("Label", exact=True).fill("Blue key fob")
        await page.get_by_role("button", name="Add card").click()
        await expect(page.locator("#card-list")).to_contain_text("Blue key fob")
        await check_page(page, "Vehicles and cards", "app-garage")


async def test_the_app_is_installable(page: Page, sqlite_server: RunningServer) -> None:
    await page.goto("/app")
    manifest = await page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert manifest["start_url"].startswith("/app") and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    scope = await page.evaluate("navigator.serviceWorker.ready.then(registration => registration.scope)")
    assert scope == f"{sqlite_server.http_url}/app"
