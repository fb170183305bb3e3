"""The console's Webhooks and Security views in a real browser: an operator registers a webhook to an endpoint of
the test's own, sees a charger's fault delivered, deletes the webhook (asked first), finds the changes in the
audit log, and reads the security events of a refused charger login and of a charger's own report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import websockets
from playwright.async_api import Page, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, node_with
from tests.operating import online_charger
from tests.screens import check_page
from tests.support.pages import log_in_as_admin
from tests.support.waiting import poll
from tests.support.webhooks import running_receiver

if TYPE_CHECKING:
    from tests.browser import PageOpener

pytest_plugins = ["tests.browser"]

NOTHING = "\N{EN DASH}"  # what the console shows in an empty field


async def webhooks_of(node: RunningServer, username: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        staff = bearer(await login_as(http, username))
        found: list[dict[str, object]] = (await http.get("/api/admin/webhooks", headers=staff)).json()
        return found


async def delivery_statuses(node: RunningServer, username: str, webhook_id: object) -> list[str]:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        staff = bearer(await login_as(http, username))
        deliveries = (await http.get(f"/api/admin/webhooks/{webhook_id}/deliveries", headers=staff)).json()
        return [delivery["status"] for delivery in deliveries]


@pytest.mark.parametrize("width", ["phone", "desktop"])
async def test_an_operator_registers_a_webhook_sees_a_fault_delivered_and_deletes_it(
    page_on: PageOpener, tmp_path: Path, width: str
) -> None:
    async with (
        running_receiver() as receiver,
        node_with(tmp_path, webhook_allow_private_targets=True, webhook_poll_interval=0.1) as node,
    ):
        async with page_on(node, width) as page:
            await register_then_delete(page, node, receiver.url)


async def register_then_delete(page: Page, node: RunningServer, url: str) -> None:
    username = await log_in_as_admin(page, node)
    await page.get_by_role("link", name="Webhooks").click()
    form = page.locator("#create-webhook")
    await form.get_by_label("URL").fill(url)
    await form.get_by_label("Charger fault").check()
    await form.get_by_role("button", name="Register webhook").click()
    await expect(page.locator("#webhooks-message")).to_have_text(f"Webhook to {url} registered.")
    await expect(page.locator("#webhook-secret-value")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    await expect(page.locator("#webhooks-table tbody tr[data-webhook]")).to_contain_text(f"{url}Charger fault")
    await check_page(page, "Webhooks", "admin-webhooks")
    [webhook] = await webhooks_of(node, username)
    assert webhook["events"] == ["charger_fault"]

    charge_point_id = await node.add_charger()
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Faulted", error_code="GroundFailure")
    await poll(lambda: delivery_statuses(node, username, webhook["id"]), lambda found: found == ["delivered"])
    await page.get_by_role("link", name=f"Deliveries of the webhook to {url}").click()
    delivery = page.locator("#deliveries-table tbody tr[data-delivery]")
    cells = delivery.locator("td")
    await expect(cells.nth(1)).to_have_text("delivered")
    await expect(cells.nth(2)).to_have_text("1")  # attempts
    await expect(cells.nth(3)).to_have_text("200")  # the endpoint's answer
    await delivery.get_by_text("Charger fault").click()  # the payload, opened
    await expect(delivery.locator("pre")).to_contain_text('"error_code": "GroundFailure"')
    await check_page(page, "Deliveries", "admin-webhook-deliveries")

    await page.get_by_role("link", name="All webhooks").click()
    delete = page.get_by_role("button", name=f"Delete the webhook to {url}")
    await delete.click()
    dialog = page.get_by_role("dialog", name=f"Delete the webhook to {url}?")
    await expect(dialog).to_contain_text("forgets its delivery log")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#webhooks-table tbody tr[data-webhook]")).to_have_count(1)
    assert len(await webhooks_of(node, username)) == 1
    await delete.click()
    await dialog.get_by_role("button", name="Delete the webhook").click()
    await expect(page.locator("#webhooks-message")).to_have_text(f"Webhook to {url} deleted.")
    await expect(page.locator("#webhooks-table tbody")).to_have_text("No webhooks yet.")
    assert await webhooks_of(node, username) == []

    await node.app_runtime.writer.flush()  # the audit log is written in the background
    await page.get_by_role("link", name="Security").click()
    audit = page.locator("#audit-table tbody tr[data-audit]")
    await expect(audit.nth(0)).to_contain_text(f"{username} (admin, #")
    await expect(audit.nth(0)).to_contain_text(f"DELETE /api/admin/webhooks/{webhook['id']}204")
    await expect(audit.nth(1)).to_contain_text("POST /api/admin/webhooks201")


async def test_a_refused_webhook_a_refused_charger_login_and_a_chargers_event_are_in_the_security_view(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    intruded = await sqlite_server.add_charger()
    with pytest.raises(websockets.InvalidStatus):
        async with connect_charger(sqlite_server.ws_url, intruded, "not-the-password-0123"):
            pass
    async with online_charger(sqlite_server) as charger:
        await charger.security_event("TamperDetectionActivated", tech_info="enclosure opened")
    username = await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Webhooks").click()
    form = page.locator("#create-webhook")
    await form.get_by_label("URL").fill("http://10.0.0.5/hook")
    await form.get_by_role("button", name="Register webhook").click()
    message = page.locator("#webhooks-message")
    await expect(message).to_contain_text("resolves to 10.0.0.5, a private address")
    await expect(message).to_have_class(re.compile(r"\berror\b"))
    await expect(page.locator("#webhook-secret")).to_be_hidden()

    await sqlite_server.app_runtime.writer.flush()  # both logs are written in the background
    await page.get_by_role("link", name="Security").click()
    await expect(page.locator("#audit-table tbody tr[data-audit]").first).to_contain_text(f"{username} (admin, #")
    await expect(page.locator("#audit-table tbody tr[data-audit]").first).to_contain_text("POST /api/admin/webhooks422")
    filters = page.locator("#security-event-filters")
    await filters.get_by_label("Charger").fill(intruded)
    await filters.get_by_role("button", name="Filter").click()
    events = page.locator("#security-events-table tbody tr[data-security-event]")
    await expect(events).to_have_count(1)
    await expect(events).to_contain_text(f"charger_auth_refused{intruded}csms127.0.0.11wrong password")

    await filters.get_by_label("Charger").fill(charger.id)
    await filters.get_by_role("button", name="Filter").click()
    await expect(events).to_contain_text(f"TamperDetectionActivated{charger.id}charger{NOTHING}1enclosure opened")
    await filters.get_by_label("Kind").fill("charger_auth_refused")
    await filters.get_by_role("button", name="Filter").click()
    await expect(page.locator("#security-events-table tbody")).to_have_text("Nothing found")
    await filters.get_by_label("Charger").fill(intruded)
    await filters.get_by_role("button", name="Filter").click()
    await expect(events).to_have_count(1)
    await check_page(page, "Security", "admin-security")
    await page.emulate_media(color_scheme="dark")
    await check_page(page, "Security", "admin-security-dark")


async def test_the_security_events_page_back_by_id(page: Page, sqlite_server: RunningServer) -> None:
    async with online_charger(sqlite_server) as charger:
        for number in range(27):
            await charger.security_event("InvalidMessages", tech_info=f"report {number}")
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Security").click()
    filters = page.locator("#security-event-filters")
    await filters.get_by_label("Charger").fill(charger.id)
    await filters.get_by_role("button", name="Filter").click()
    events = page.locator("#security-events-table tbody tr[data-security-event]")
    pager = page.locator("#security-events-pager")
    await expect(events).to_have_count(25)
    await expect(events.first).to_contain_text("report 26")
    await expect(pager.get_by_role("button", name="Newer")).to_be_disabled()
    await pager.get_by_role("button", name="Older").click()
    await expect(events).to_have_count(2)
    await expect(pager).to_contain_text("Page 2")
    await expect(events.last).to_contain_text("report 0")
    await expect(pager.get_by_role("button", name="Older")).to_be_disabled()
    await pager.get_by_role("button", name="Newer").click()
    await expect(events).to_have_count(25)


async def test_an_operator_whose_role_is_taken_away_is_told_the_logs_are_not_for_them(
    page: Page, sqlite_server: RunningServer
) -> None:
    username = await log_in_as_admin(page, sqlite_server)
    root, _ = await create_account_with_role(sqlite_server, "root")
    async with httpx.AsyncClient(base_url=sqlite_server.http_url) as http:
        me = (await http.get("/api/me", headers=bearer(await login_as(http, username)))).json()
        demoted = await http.patch(
            f"/api/admin/users/{me['id']}", json={"role": "user"}, headers=bearer(await login_as(http, root))
        )
        assert demoted.status_code == 200, demoted.text
    await page.get_by_role("link", name="Security").click()
    await expect(page.locator("#security-events-message")).to_have_text(
        "Your role may not read the security event log."
    )
    await expect(page.locator("#audit-message")).to_have_text("Your role may not read the audit log.")
    await expect(page.locator("#page-error")).to_be_empty()
