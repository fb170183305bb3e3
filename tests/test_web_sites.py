"""Sites in the browser: the dashboard's live bars of a site's sessions against its limit, the forms that
change the limit, and the power csms allows shown in the driver's app.

The chargers are real simulated OCPP clients on a site; what a bar shows is checked against the limit the
charger itself received (its TxProfile), so the page can only pass by showing what csms enforces.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.v16 import call_result
from playwright.async_api import Locator, Page, expect

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer, bearer, create_account_with_role, login_as
from tests.operating import new_tag, online_charger
from tests.screens import check_page
from tests.support.pages import log_in_as_admin, sign_up
from tests.support.sites import Car, limits_settle, make_site, site_chargers, start_car

pytest_plugins = ["tests.browser"]

# Long enough for the allocator to recompute and the page's next read (every 3 s; the app's every 5 s).
ALLOCATION_MS = 20_000


async def admin_headers(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username))


def refusing_profiles() -> ChargerBehaviour:
    behaviour = ChargerBehaviour()
    behaviour.answers["SetChargingProfile"] = lambda payload: call_result.SetChargingProfile(status="Rejected")
    return behaviour


def session_row(page: Page, car: Car) -> Locator:
    return page.locator(f'#site-sessions [data-session="{car.transaction_id}"]')


async def expect_allowed(page: Page, car: Car, amperes: float) -> None:
    """The car's bar shows the limit the charger holds, as text and as the meter's value."""
    row = session_row(page, car)
    if amperes == 0:
        await expect(row.locator(".badge")).to_have_text("Waiting", timeout=ALLOCATION_MS)
        await expect(row.locator(".meter-text")).to_contain_text("waiting for power")
    else:
        await expect(row.locator(".meter-text")).to_contain_text(f"{amperes:.1f} A allowed", timeout=ALLOCATION_MS)
        await expect(row.locator(".badge")).to_have_text("Charging")
    await expect(row.get_by_role("meter")).to_have_attribute("aria-valuenow", re.compile(rf"^{amperes:g}$"))


async def test_an_admin_watches_a_sites_cars_share_its_limit_and_lowers_it(
    page: Page, sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin = await admin_headers(sqlite_server, api)
    await log_in_as_admin(page, sqlite_server)
    async with (
        site_chargers(sqlite_server, 2) as chargers,
        online_charger(sqlite_server, refusing_profiles()) as stubborn,
    ):
        # The operator makes the site from the dashboard, naming its chargers.
        name = f"Depot {chargers[0].id}"
        await page.get_by_role("link", name="Sites", exact=True).click()
        form = page.locator("#create-site")
        await form.get_by_label("Name").fill(name)
        await form.get_by_label("Limit per phase (A)").fill("63")
        await form.get_by_label("Chargers").fill(f"{chargers[0].id}, {chargers[1].id}, {stubborn.id}")
        await form.get_by_role("button", name="Create site").click()
        await expect(page.locator("#create-site-message")).to_have_text(f"Site {name} created.")
        listed = page.locator("#sites-table tr", has_text=name)
        await expect(listed.locator("td").nth(1)).to_have_text("63.0 A")
        await expect(listed.locator("td").nth(3)).to_have_text("3")
        await listed.get_by_role("link", name=name).click()
        await expect(page.get_by_role("heading", name=f"Site {name}")).to_be_visible()
        await expect(page.locator("#site-facts")).to_contain_text("63.0 A per phase (grid connection)")
        await expect(page.locator("#site-sessions")).to_have_text("No car is charging on this site.")

        # Cars arrive: the page shows each session's limit as the charger holds it, live.
        first = await start_car(chargers[0], await new_tag(api, admin))
        await limits_settle([first], [25.0])  # 63 A less the stubborn charger's 32 and the idle one's 6
        await expect_allowed(page, first, 25.0)
        stuck = await start_car(stubborn, await new_tag(api, admin))
        second = await start_car(chargers[1], await new_tag(api, admin))
        await limits_settle([first, second], [15.5, 15.5])
        await expect_allowed(page, first, 15.5)
        await expect_allowed(page, second, 15.5)
        # The charger that refuses its limits is marked, and counted at its maximum.
        unresponsive = session_row(page, stuck)
        await expect(unresponsive.locator(".badge")).to_have_text("Unresponsive", timeout=ALLOCATION_MS)
        await expect(unresponsive.locator(".meter-text")).to_contain_text("counted at 32.0 A")
        total = page.locator("#site-total")
        await expect(total).to_contain_text("63.0 A of 63.0 A allocated")

        # A car that draws less keeps its draw and the hysteresis; its draw shows inside its bar.
        await first.draw(10)
        await limits_settle([first, second], [12.0, 19.0])
        await expect_allowed(page, first, 12.0)
        await expect(session_row(page, first).locator(".meter-text")).to_contain_text("10.0 A drawn")
        await expect_allowed(page, second, 19.0)
        await expect(total).to_contain_text("10.0 A drawn")

        # The operator lowers the limit from the page: the last car to come waits, the bars follow.
        override = page.locator("#site-override")
        await override.get_by_label("Limit per phase (A)").fill("40")
        await override.get_by_role("button", name="Set the override").click()
        await expect(page.locator("#site-override-message")).to_have_text("Override set: 40.0 A.")
        await expect(page.locator("#site-override-now")).to_have_text("In force: 40.0 A until cleared.")
        await expect(page.locator("#site-facts")).to_contain_text("40.0 A per phase (override)")
        await limits_settle([first, second], [8.0, 0.0])
        await expect_allowed(page, first, 8.0)
        await expect_allowed(page, second, 0)
        await expect(total).to_contain_text("40.0 A of 40.0 A allocated")

        # Cleared: the site's own limit again, and the waiting car is served; the first car, held under its
        # old draw, shows no lower draw any more and shares equally.
        await override.get_by_role("button", name="Clear the override").click()
        await expect(page.locator("#site-override-message")).to_have_text("Override cleared.")
        await limits_settle([first, second], [15.5, 15.5])
        await expect_allowed(page, first, 15.5)
        await expect_allowed(page, second, 15.5)
        await expect(page.locator("#site-facts")).to_contain_text("63.0 A per phase (grid connection)")
        await expect(page.get_by_role("img", name=re.compile("^The current of site "))).to_be_visible()


async def test_an_admin_edits_a_sites_settings_and_windows_and_finds_it_from_its_charger(
    page: Page, sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin = await admin_headers(sqlite_server, api)
    async with site_chargers(sqlite_server, 1) as chargers:
        site = await make_site(api, admin, [chargers[0].id])
        await log_in_as_admin(page, sqlite_server)
        await page.goto(f"/admin#/chargers/{chargers[0].id}")
        await page.locator("#charger-facts").get_by_role("link", name=site["name"]).click()
        await expect(page.get_by_role("heading", name=f"Site {site['name']}")).to_be_visible()

        settings = page.locator("#site-settings")
        await expect(settings.get_by_label("Chargers")).to_have_value(chargers[0].id)
        await settings.get_by_label("Limit per phase (A)").fill("50")
        await settings.get_by_label("Sharing").select_option("priority")
        await settings.get_by_role("button", name="Save settings").click()
        await expect(page.locator("#site-settings-message")).to_have_text("Settings saved.")
        await expect(page.locator("#site-facts")).to_contain_text("50.0 A per phase, 3 phases")

        # A window of the two hours around now (site time: UTC) brings the limit in force down.
        now = datetime.now(UTC)
        start, end = (f"{t:%H:%M}" for t in (now - timedelta(hours=1), now + timedelta(hours=1)))
        windows = page.locator("#site-windows")
        await windows.get_by_role("button", name="Add a window").click()
        await windows.get_by_label("From").fill(start)
        await windows.get_by_label("To").fill(end)
        await windows.get_by_label("Limit (A)").fill("20")
        await windows.get_by_role("button", name="Save the windows").click()
        await expect(page.locator("#site-windows-message")).to_have_text("Windows saved.")
        await expect(page.locator("#site-facts")).to_contain_text(f"20.0 A per phase (window {start}\u2013{end})")

        stored = (await api.get(f"/api/admin/sites/{site['id']}", headers=admin)).json()
        assert (stored["max_current_a"], stored["strategy"], stored["limit_in_force_a"]) == (50.0, "priority", 20.0)
        assert stored["limit_windows"] == [{"start": start, "end": end, "max_current_a": 20.0}]

        # A window the API refuses says why, and changes nothing.
        await windows.get_by_role("button", name="Add a window").click()
        await windows.get_by_label("From").last.fill(f"{now:%H:%M}")
        await windows.get_by_label("To").last.fill(f"{now + timedelta(minutes=30):%H:%M}")
        await windows.get_by_label("Limit (A)").last.fill("10")
        await windows.get_by_role("button", name="Save the windows").click()
        await expect(page.locator("#site-windows-message")).to_contain_text("overlap")
        assert len((await api.get(f"/api/admin/sites/{site['id']}", headers=admin)).json()["limit_windows"]) == 1


async def test_a_driver_on_a_site_sees_the_power_csms_allows_follow_the_sites_limit(
    page: Page, sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin = await admin_headers(sqlite_server, api)
    await sign_up(page)
    id_tag = await page.evaluate("JSON.parse(localStorage.getItem('csms.app.tokens')).idTag")
    async with site_chargers(sqlite_server, 1) as chargers:
        site = await make_site(api, admin, [chargers[0].id], phases=3)
        car = await start_car(chargers[0], id_tag)
        await limits_settle([car], [32.0])  # alone on 63 A: the most its charger gives
        await page.get_by_role("link", name="Session").click()
        allowed = page.locator("#live-allowed")
        await expect(allowed).to_have_text("22.1 kW", timeout=ALLOCATION_MS)  # 32 A x 3 phases x 230 V
        await expect(page.locator("#live-allowed-detail")).to_have_text("32.0 A per phase")

        response = await api.put(f"/api/admin/sites/{site['id']}/limit", json={"max_current_a": 20}, headers=admin)
        assert response.status_code == 200, response.text
        await limits_settle([car], [20.0])
        await expect(allowed).to_have_text("13.8 kW", timeout=ALLOCATION_MS)
        await expect(page.locator("#live-allowed-detail")).to_have_text("20.0 A per phase")


async def test_a_driver_off_any_site_sees_no_allowance(
    page: Page, sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    await sign_up(page)
    id_tag = await page.evaluate("JSON.parse(localStorage.getItem('csms.app.tokens')).idTag")
    async with online_charger(sqlite_server) as charger:
        await start_car(charger, id_tag)
        await page.get_by_role("link", name="Session").click()
        await expect(page.locator("#live")).to_be_visible()
        await expect(page.locator("#live-allowance")).to_be_hidden()


async def test_the_site_pages_fit_a_phone_and_a_desktop(
    screen: Page, sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    page = screen
    admin = await admin_headers(sqlite_server, api)
    async with site_chargers(sqlite_server, 3) as chargers:
        site: dict[str, Any] = await make_site(api, admin, [c.id for c in chargers], max_current_a=40)
        windows = [{"start": "17:00", "end": "20:00", "max_current_a": 25}]
        assert (await api.put(f"/api/admin/sites/{site['id']}/limit_windows", json=windows, headers=admin)).is_success
        cars = [await start_car(charger, await new_tag(api, admin)) for charger in chargers[:2]]
        await cars[0].draw(9)
        await limits_settle(cars)
        await log_in_as_admin(page, sqlite_server)
        await page.goto("/admin#/sites")
        await expect(page.locator(f'#sites-table [data-site="{site["id"]}"]')).to_be_visible()
        await check_page(page, "Sites", "admin-sites")
        await page.goto(f"/admin#/sites/{site['id']}")
        await expect(session_row(page, cars[1]).locator(".badge")).to_have_text("Charging", timeout=ALLOCATION_MS)
        await check_page(page, f"Site {site['name']}", "admin-site")

        # The driver of the third car, in the app: the live session with the power the site allows.
        await sign_up(page)
        id_tag = await page.evaluate("JSON.parse(localStorage.getItem('csms.app.tokens')).idTag")
        cars.append(await start_car(chargers[2], id_tag))
        await page.get_by_role("link", name="Session").click()
        await expect(page.locator("#live-allowance")).to_be_visible(timeout=ALLOCATION_MS)
        await check_page(page, "Charging", "app-session-site")
        for car in cars:  # the other screen's run finds this site with no session left open
            await car.stop()
