"""The console's Tariffs view in a real browser: an operator defines a tariff, assigns it to a charger, asks which
tariff applies there (the page answers what the API does, and why), removes the assignment after cancelling once,
and a tariff the API refuses shows its reason and is not created."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.conftest import RunningServer, bearer, create_account_with_role, login_as
from tests.screens import check_page
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]


async def read_as_admin(server: RunningServer, path: str, **params: Any) -> Any:
    username, password = await create_account_with_role(server, "admin")
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.get(path, params=params, headers=bearer(await login_as(http, username, password)))
        assert response.status_code == 200, response.text
        return response.json()


async def tariffs_named(server: RunningServer, name: str) -> list[dict[str, Any]]:
    return [tariff for tariff in await read_as_admin(server, "/api/admin/tariffs") if tariff["name"] == name]


async def assignments_at(server: RunningServer, charge_point_id: str) -> list[dict[str, Any]]:
    assignments = await read_as_admin(server, "/api/admin/tariff_assignments")
    return [assignment for assignment in assignments if assignment["charge_point_id"] == charge_point_id]


async def test_an_operator_assigns_a_tariff_to_a_charger_checks_it_applies_and_removes_it(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    charge_point_id = await sqlite_server.add_charger()
    name = f"Public AC {secrets.token_hex(3)}"
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Tariffs").click()

    define = page.locator("#create-tariff")
    await define.get_by_label("Name").fill(name)
    await define.get_by_label("Currency").fill("eur")
    await define.get_by_label("Per kWh").fill("0.39")
    await define.get_by_label("Per charging minute").fill("0.01")
    await define.get_by_label("Fee per session").fill("0.50")
    await define.get_by_label("Tax (%)").fill("20")
    await define.get_by_role("button", name="Create tariff").click()
    await expect(page.locator("#create-tariff-message")).to_contain_text(f"Tariff {name} (#")
    [tariff] = await tariffs_named(sqlite_server, name)
    assert tariff["currency"] == "EUR"
    assert [Decimal(tariff[k]) for k in ("price_per_kwh", "price_per_charging_minute", "session_fee", "tax_rate")] == [
        Decimal("0.39"),
        Decimal("0.01"),
        Decimal("0.50"),
        Decimal("0.20"),
    ]
    await expect(page.locator(f'[data-tariff="{tariff["id"]}"]')).to_contain_text(
        f"{name}€0.39 per kWh · €0.01 per charging minute · €0.50 per session20%"
    )

    assign = page.locator("#assign-tariff")
    label = f"{name} (#{tariff['id']}, EUR)"
    await expect(assign.get_by_label("Tariff")).to_have_value(str(tariff["id"]))  # the tariff just defined
    await assign.get_by_label("Charger").fill(charge_point_id)
    await assign.get_by_role("button", name="Assign").click()
    await expect(page.locator("#assign-tariff-message")).to_contain_text(f"of {label} added.")
    [assignment] = await assignments_at(sqlite_server, charge_point_id)
    row = page.locator(f'[data-assignment="{assignment["id"]}"]')
    await expect(row).to_contain_text(f"{label}{charge_point_id}, every connectorEveryoneAlways")

    check = page.locator("#tariff-check")
    await check.get_by_label("Charger").fill(charge_point_id)
    await check.get_by_role("button", name="Check").click()
    place = {"charge_point_id": charge_point_id, "connector_id": 1}
    in_force = await read_as_admin(sqlite_server, "/api/admin/tariff_for", **place)
    assert (in_force["id"], in_force["assignment"]["id"]) == (tariff["id"], assignment["id"])
    answer = page.locator("#tariff-check-result")
    await expect(answer.locator("[data-result]")).to_have_attribute("data-result", str(in_force["id"]))
    await expect(answer).to_contain_text(f"{label} applies at {charge_point_id} · connector 1 (now).")
    await expect(answer).to_contain_text(f"Because ofAssignment #{assignment['id']}")
    await check_page(page, "Tariffs", "admin-tariffs")

    await row.get_by_role("button", name=f"Remove assignment {assignment['id']}").click()
    removal = page.get_by_role("dialog", name=f"Remove assignment {assignment['id']}?")
    await expect(removal).to_contain_text(f"{label} will no longer apply to {charge_point_id}, every connector")
    await removal.get_by_role("button", name="Cancel").click()
    await expect(row).to_be_visible()
    assert await assignments_at(sqlite_server, charge_point_id) == [assignment]
    await row.get_by_role("button", name=f"Remove assignment {assignment['id']}").click()
    await removal.get_by_role("button", name="Remove the assignment").click()
    await expect(page.locator("#tariff-assignments-message")).to_have_text(f"Assignment #{assignment['id']} removed.")
    await expect(row).to_have_count(0)
    assert await assignments_at(sqlite_server, charge_point_id) == []
    # The check shown is read again: nothing applies there any more, as the API says.
    await expect(answer.locator("[data-result]")).to_have_attribute("data-result", "none")
    await expect(answer).to_contain_text(f"No tariff applies at {charge_point_id} · connector 1 (now)")
    assert await read_as_admin(sqlite_server, "/api/admin/tariff_for", **place) is None


async def test_a_negative_price_shows_the_apis_reason_and_creates_no_tariff(
    page: Page, sqlite_server: RunningServer
) -> None:
    await page.emulate_media(color_scheme="dark")
    name = f"Typo {secrets.token_hex(3)}"
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Tariffs").click()
    define = page.locator("#create-tariff")
    await define.get_by_label("Name").fill(name)
    await define.get_by_label("Currency").fill("EUR")
    await define.get_by_label("Per kWh").fill("-0.39")
    await define.get_by_role("button", name="Create tariff").click()
    message = page.locator("#create-tariff-message")
    await expect(message).to_have_text("Per kWh: Input should be greater than or equal to 0")
    await expect(message).to_have_class("message error")
    await check_page(page, "Tariffs", "admin-tariffs-dark")
    assert await tariffs_named(sqlite_server, name) == []


async def test_the_check_refuses_a_charger_csms_does_not_know(page: Page, sqlite_server: RunningServer) -> None:
    unknown = f"NOPE{secrets.token_hex(3)}"
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Tariffs").click()
    check = page.locator("#tariff-check")
    await check.get_by_label("Charger").fill(unknown)
    await check.get_by_role("button", name="Check").click()
    await expect(page.locator("#tariff-check-message")).to_have_text(f"unknown charger {unknown}")
    await expect(page.locator("#tariff-check-result")).to_be_empty()


async def test_in_japanese_on_a_phone_the_check_says_no_tariff_applies_where_none_is_assigned(
    phone: Page, sqlite_server: RunningServer
) -> None:
    page = phone
    charge_point_id = await sqlite_server.add_charger()
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Tariffs").click()
    await page.get_by_label("Language").select_option("ja")
    await expect(page.get_by_role("heading", name="料金プラン", exact=True)).to_be_visible()
    check = page.locator("#tariff-check")
    await check.get_by_label("充電器").fill(charge_point_id)
    await check.get_by_role("button", name="確認").click()
    answer = page.locator("#tariff-check-result")
    none_applies = "（現在）に適用される料金プランはありません。ここでのセッションには料金がかかりません。"  # noqa: RUF001 (Japanese punctuation)
    await expect(answer).to_have_text(f"{charge_point_id} · コネクタ 1{none_applies}")
    place = {"charge_point_id": charge_point_id, "connector_id": 1}
    assert await read_as_admin(sqlite_server, "/api/admin/tariff_for", **place) is None
    await check_page(page, "料金プラン", "admin-tariffs-ja")
