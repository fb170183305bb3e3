"""A charger's page in a real browser, with a simulated 1.6 charger: its sessions with a remote start and a
remote stop (asked first), the message log filtered by action and paged, its charging profiles cleared after
asking, the composite schedule of a connector, and a new Basic-auth password (asked first)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from playwright.async_api import Page, expect

from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as
from tests.operating import can_connect, online_charger, payloads_received
from tests.screens import check_page, snap_element
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]

NEW_PASSWORD = "a-new-charger-password-7"
PROFILE = {
    "connector_id": 1,
    "charging_profile_id": 42,
    "stack_level": 1,
    "purpose": "TxDefaultProfile",
    "charging_rate_unit": "A",
    "periods": [{"start_period": 0, "limit": 16}, {"start_period": 3600, "limit": 10}],
}


@asynccontextmanager
async def as_admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as an admin, for what the test sets up or reads back."""
    username, _ = await create_account_with_role(server, "admin")
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        http.headers.update(bearer(await login_as(http, username)))
        yield http


async def registered_card(http: httpx.AsyncClient) -> str:
    card = f"OP{secrets.token_hex(4).upper()}"
    response = await http.post("/api/admin/id_tags", json={"id_tag": card, "label": "Operator's card"})
    assert response.status_code == 201, response.text
    return card


async def open_charger_page(page: Page, server: RunningServer, charge_point_id: str) -> None:
    await log_in_as_admin(page, server)
    await page.goto(f"/admin#/chargers/{charge_point_id}")
    await expect(page.get_by_role("heading", name=f"Charger {charge_point_id}", exact=True)).to_be_visible()
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")  # its cards are filled in


async def test_a_remote_start_reaches_the_charger_and_its_session_is_stopped_only_once_confirmed(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    async with as_admin(sqlite_server) as http, online_charger(sqlite_server) as charger:
        card = await registered_card(http)
        await open_charger_page(page, sqlite_server, charger.id)
        sessions = page.locator("#charger-sessions-card")
        await expect(sessions.locator("tbody")).to_contain_text("No sessions on this charger yet.")
        await sessions.get_by_label("Connector (EVSE)").fill("1")
        await sessions.get_by_label("idTag").fill(card)
        await sessions.get_by_role("button", name="Start remotely").click()
        await expect(page.locator("#charger-sessions-message")).to_have_text("RemoteStartTransaction: Accepted.")
        assert payloads_received(charger, "RemoteStartTransaction") == [{"connectorId": 1, "idTag": card}]

        started = await charger.start_transaction(1, card, meter_start=1_000)  # as the charger does, once asked
        await charger.meter_values(1, started.transaction_id, 4_500)
        row = page.locator(f'#charger-sessions [data-transaction="{started.transaction_id}"]')
        await expect(row).to_contain_text(card)
        await expect(row).to_contain_text("3.50 kWh")
        await expect(row.get_by_role("link", name=str(started.transaction_id))).to_have_attribute(
            "href", f"#/transactions/{started.transaction_id}"
        )
        await check_page(page, f"Charger {charger.id}", "admin-charger-tools")
        await snap_element(page, "#charger-sessions-card", "admin-charger-sessions")

        stop = row.get_by_role("button", name=f"Stop session {started.transaction_id}")
        await stop.click()
        question = page.get_by_role("dialog", name=f"Stop session {started.transaction_id}?")
        await expect(question).to_contain_text(f"connector 1 ({card})")
        await question.get_by_role("button", name="Cancel").click()
        await expect(page.locator("#charger-sessions-message")).to_have_text("RemoteStopTransaction: not sent.")
        assert payloads_received(charger, "RemoteStopTransaction") == []

        await stop.click()
        await question.get_by_role("button", name="Stop the session").click()
        await expect(page.locator("#charger-sessions-message")).to_have_text("RemoteStopTransaction: Accepted.")
        assert payloads_received(charger, "RemoteStopTransaction") == [{"transactionId": started.transaction_id}]

        await charger.stop_transaction(started.transaction_id, 4_500)
        await expect(row).to_contain_text("Ended")
        await expect(row.get_by_role("button")).to_have_count(0)


async def test_the_message_log_filtered_by_action_shows_only_its_frames_and_pages_back(
    page: Page, sqlite_server: RunningServer
) -> None:
    async with online_charger(sqlite_server) as charger:
        for _ in range(60):
            await charger.heartbeat()
        await sqlite_server.flush_message_log()
        await open_charger_page(page, sqlite_server, charger.id)
        log = page.locator("#message-log tbody tr")
        await expect(log).to_have_count(50)
        filters = page.locator("#message-log-filters")
        await filters.get_by_label("Action").fill("StatusNotification")
        await filters.get_by_role("button", name="Filter").click()
        await expect(log).to_have_count(2)  # the call and its answer
        await expect(log.nth(0)).to_contain_text("csms → charger")
        await expect(log.nth(1)).to_contain_text("charger → csms")
        for row in await log.all():
            await expect(row).to_contain_text("StatusNotification")
        await snap_element(page, "#message-log-card", "admin-charger-log")

        await filters.get_by_label("Action").fill("Heartbeat")
        await filters.get_by_label("Direction").select_option(label="charger → csms")
        await filters.get_by_role("button", name="Filter").click()
        await expect(log).to_have_count(50)
        await expect(page.locator('#message-log tr[data-direction="out"]')).to_have_count(0)
        await page.get_by_role("button", name="Older").click()
        await expect(log).to_have_count(10)  # 60 heartbeats in all
        await expect(page.get_by_role("button", name="Older")).to_be_disabled()
        await page.get_by_role("button", name="Newer").click()
        await expect(log).to_have_count(50)
        await expect(page.get_by_role("button", name="Newer")).to_be_disabled()


async def test_a_profile_set_through_the_api_is_listed_and_cleared_once_confirmed(
    page: Page, sqlite_server: RunningServer
) -> None:
    async with as_admin(sqlite_server) as http, online_charger(sqlite_server) as charger:
        answer = await http.post(f"/api/admin/chargers/{charger.id}/charging_profiles", json=PROFILE)
        assert answer.json() == {"status": "Accepted"}
        await open_charger_page(page, sqlite_server, charger.id)
        row = page.locator('#charging-profiles [data-profile="42"]')
        await expect(row).to_contain_text("TxDefaultProfile")
        await expect(row).to_contain_text("from 0 s: 16.0 A, from 3600 s: 10.0 A")

        schedule = page.locator("#composite-schedule-form")
        await schedule.get_by_label("Duration (s)").fill("7200")
        await schedule.get_by_role("button", name="Get schedule").click()
        await expect(page.locator("#composite-schedule tr")).to_have_count(2)
        await expect(page.locator("#composite-schedule tr").nth(0)).to_contain_text("16.0 A")
        assert payloads_received(charger, "GetCompositeSchedule") == [{"connectorId": 1, "duration": 7200}]
        await page.emulate_media(color_scheme="dark")
        await snap_element(page, "#charging-profiles-card", "admin-charger-profiles-dark")

        await row.get_by_role("button", name="Clear profile 42").click()
        question = page.get_by_role("dialog", name=f"Clear profile 42 on {charger.id}?")
        await question.get_by_role("button", name="Cancel").click()
        await expect(page.locator("#charging-profiles-message")).to_have_text("ClearChargingProfile: not sent.")
        assert payloads_received(charger, "ClearChargingProfile") == []

        await row.get_by_role("button", name="Clear profile 42").click()
        await question.get_by_role("button", name="Clear the profile").click()
        await expect(page.locator("#charging-profiles tbody")).to_have_text("The charger holds no charging profile.")
        assert payloads_received(charger, "ClearChargingProfile") == [{"id": 42}]
        assert (await http.get(f"/api/admin/chargers/{charger.id}/charging_profiles")).json() == []


async def test_a_new_password_is_asked_first_and_then_only_it_lets_the_charger_in(
    page: Page, sqlite_server: RunningServer
) -> None:
    async with online_charger(sqlite_server) as charger:
        charge_point_id = charger.id
        await open_charger_page(page, sqlite_server, charge_point_id)
        form = page.locator("#charger-password-form")
        await form.get_by_label("New password (16 to 40 characters)").fill(NEW_PASSWORD)
        await form.get_by_role("button", name="Change password").click()
        question = page.get_by_role("dialog", name=f"Change the password of {charge_point_id}?")
        await question.get_by_role("button", name="Cancel").click()
        await expect(page.locator("#charger-password-message")).to_have_text("Password not changed.")
        assert payloads_received(charger, "ChangeConfiguration") == []

        await form.get_by_label("New password (16 to 40 characters)").fill(NEW_PASSWORD)
        await form.get_by_role("button", name="Change password").click()
        await question.get_by_role("button", name="Change the password").click()
        await expect(page.locator("#charger-password-message")).to_have_text(
            "The charger accepted the new password; only it works from now on."
        )
        assert payloads_received(charger, "ChangeConfiguration") == [
            {"key": "AuthorizationKey", "value": NEW_PASSWORD.encode().hex().upper()}
        ]
    assert not await can_connect(sqlite_server, charge_point_id, CHARGER_PASSWORD)
    assert await can_connect(sqlite_server, charge_point_id, NEW_PASSWORD)
