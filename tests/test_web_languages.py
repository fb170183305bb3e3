"""The pages in the user's language (English, Japanese) and colour scheme, in a real browser: the driver's main
task in each language at 360 px and desktop width, the language switch, and dark mode's contrast."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, USER_PASSWORD, RunningServer, create_account_with_role, new_username
from tests.screens import check_page, overflows_horizontally, snap
from tests.test_web_admin import charge_once
from tests.test_web_app import begin_transaction, price_charger_at_forty_cents_a_kwh

pytest_plugins = ["tests.browser"]


def shot(name: str, language: str) -> str | None:
    """A screenshot's name in Japanese only: the English pages are saved by the other web tests."""
    return f"{name}-{language}" if language != "en" else None


# What the driver reads, in each language (the texts the tests look for; the catalogs hold them all).
DRIVER = {
    "en": {
        "login": "Charge your car with csms",
        "username": "Username",
        "password": "Password",
        "create": "Create account",
        "charge": "Start charging",
        "charger_id": "Charger id",
        "connector": "Connector",
        "find": "Find charger",
        "paired": "{cp} · connector 1",
        "available": "Available",
        "online": "Online",
        "price": "€0.40 per kWh · no tax",
        "stop": "Stop charging",
        "finished": "Charging finished: 2.50 kWh, €1.00. The session is in your history.",
        "history": "History",
        "history_title": "Charging history",
    },
    "ja": {
        "login": "csms で充電する",
        "username": "ユーザー名",
        "password": "パスワード",
        "create": "アカウントを作成",
        "charge": "充電開始",
        "charger_id": "充電器 ID",
        "connector": "コネクタ",
        "find": "充電器を探す",
        "paired": "{cp} · コネクタ 1",
        "available": "利用可能",
        "online": "オンライン",
        "price": "1 kWh あたり €0.40 · 非課税",
        "stop": "充電停止",
        "finished": "充電が完了しました：2.50 kWh、€1.00。履歴で確認できます。",  # noqa: RUF001 (Japanese punctuation)
        "history": "履歴",
        "history_title": "充電履歴",
    },
}


async def sign_up_in(page: Page, language: str) -> None:
    words = DRIVER[language]
    await page.goto("/app")
    await check_page(page, words["login"], shot("app-login", language))
    signup = page.locator("#app-signup")
    await signup.get_by_label(words["username"]).fill(new_username("driver"))
    await signup.get_by_label(words["password"]).fill(USER_PASSWORD)
    await signup.get_by_role("button", name=words["create"]).click()
    await expect(page.get_by_role("heading", name=words["charge"], exact=True)).to_be_visible()


async def test_a_driver_charges_in_the_browsers_language_on_a_phone_and_a_desktop(
    localized_screen: Page, language: str, sqlite_server: RunningServer
) -> None:
    page = localized_screen
    words = DRIVER[language]
    charge_point_id = await sqlite_server.add_charger()
    await price_charger_at_forty_cents_a_kwh(sqlite_server, charge_point_id)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await sign_up_in(page, language)
        await expect(page.locator("html")).to_have_attribute("lang", language)
        await expect(page.locator(".language-switch")).to_have_value(language)

        await page.get_by_label(words["charger_id"]).fill(charge_point_id)
        await page.get_by_label(words["connector"]).fill("1")
        await page.get_by_role("button", name=words["find"]).click()
        await expect(page.locator("#paired-title")).to_have_text(words["paired"].format(cp=charge_point_id))
        await expect(page.locator("#paired-status")).to_have_text(words["available"])
        await expect(page.locator("#paired-connection")).to_have_text(words["online"])
        await expect(page.locator("#paired-price")).to_have_text(words["price"])
        await check_page(page, words["charge"], shot("app-charge", language))
        await page.get_by_role("button", name=words["charge"]).click()
        transaction_id = await begin_transaction(charger, meter_start=10_000)

        await expect(page.locator("#live-energy")).to_have_text("0.00 kWh")
        await charger.meter_values(1, transaction_id, 12_250)
        await expect(page.locator("#live-energy")).to_have_text("2.25 kWh")
        await expect(page.locator("#live-cost")).to_have_text("€0.90")
        assert not await overflows_horizontally(page)
        if name := shot("app-session", language):
            await snap(page, name)
        await page.get_by_role("button", name=words["stop"]).click()
        await charger.wait_for_call("RemoteStopTransaction")
        await charger.stop_transaction(transaction_id, 12_500)
        await expect(page.locator("#session-message")).to_have_text(words["finished"])

        await page.get_by_role("link", name=words["history"], exact=True).click()
        await check_page(page, words["history_title"], shot("app-history", language))
        record = page.locator(f'[data-transaction="{transaction_id}"]')
        await expect(record.locator(".cost")).to_have_text("€1.00")


# What the operator reads, in each language.
CONSOLE = {
    "en": {
        "sign_in": "Sign in to the csms dashboard",
        "username": "Username",
        "password": "Password",
        "log_in": "Log in",
        "overview": "Overview",
        "online": "Online",
        "charging": "Charging",
        "energy_today": "Energy today",
        "chargers": "Chargers",
        "charger": "Charger {cp}",
        "available": "Available",
        "identity": "Identity and firmware",
        "firmware": "Firmware",
        "reset": "Reset",
        "log": "OCPP message log",
        "incoming": "charger → csms",
        "language": "Language",
    },
    "ja": {
        "sign_in": "csms ダッシュボードにログイン",
        "username": "ユーザー名",
        "password": "パスワード",
        "log_in": "ログイン",
        "overview": "概要",
        "online": "オンライン",
        "charging": "充電中",
        "energy_today": "本日の電力量",
        "chargers": "充電器",
        "charger": "充電器 {cp}",
        "available": "利用可能",
        "identity": "基本情報とファームウェア",
        "firmware": "ファームウェア",
        "reset": "リセット",
        "log": "OCPP メッセージログ",
        "incoming": "充電器 → csms",
        "language": "言語",
    },
}


async def test_an_operator_reads_the_overview_and_a_charger_in_the_browsers_language(
    localized_screen: Page, language: str, sqlite_server: RunningServer
) -> None:
    page = localized_screen
    words = CONSOLE[language]
    charge_point_id = await sqlite_server.add_charger()
    username, password = await create_account_with_role(sqlite_server, "admin")
    await page.goto("/admin")
    await check_page(page, words["sign_in"], shot("admin-login", language))
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await page.get_by_label(words["username"], exact=True).fill(username)
    await page.get_by_label(words["password"], exact=True).fill(password)
    await page.get_by_role("button", name=words["log_in"]).click()
    await expect(page.get_by_role("heading", name=words["overview"], exact=True)).to_be_visible()  # signed in
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot(firmware_version="1.4.2")
        await charger.status(1, "Available")
        await charge_once(charger, id_tag="RFID-0001", readings=[0, 2_500, 9_000])
        await charger.status(2, "Charging")
        await sqlite_server.flush_message_log()
        await page.reload()
        await check_page(page, words["overview"], shot("admin-overview", language))
        # The server is shared by the tests: today's energy is at least this session's, formatted as the page's.
        stat = page.locator(".stat", has=page.get_by_text(words["energy_today"], exact=True))
        await expect(stat.locator(".value")).to_have_text(re.compile(r"^[1-9][\d,]*\.\d\d kWh$"))
        charging = page.locator(".stat", has=page.get_by_text(words["charging"], exact=True))
        await expect(charging.locator(".value")).to_have_text(re.compile(r"^[1-9]\d*$"))

        await page.get_by_role("link", name=words["chargers"], exact=True).click()
        search = page.locator("#charger-search")  # the list shows a page at a time of every test's chargers
        await search.locator("input[name=q]").fill(charge_point_id)
        await search.locator("button[type=submit]").click()
        await expect(page.locator(f'[data-connection="{charge_point_id}"]')).to_have_text(words["online"])
        await expect(page.locator(f'[data-connector="{charge_point_id}/1"]')).to_have_text(words["available"])
        await charger.status(1, "Charging")  # live: the badge follows in the page's language
        await expect(page.locator(f'[data-connector="{charge_point_id}/1"]')).to_have_text(words["charging"])
        await page.get_by_role("link", name=charge_point_id).click()
        await check_page(page, words["charger"].format(cp=charge_point_id), shot("admin-charger", language))
        await expect(page.get_by_role("heading", name=words["identity"])).to_be_visible()
        facts = page.locator("#charger-facts")
        await expect(facts.locator(f"dt:text-is('{words['firmware']}') + dd")).to_have_text("1.4.2")
        await expect(page.locator("#commands").get_by_role("button", name=words["reset"], exact=True)).to_be_visible()
        await expect(page.get_by_role("heading", name=words["log"])).to_be_visible()
        await expect(page.get_by_role("combobox", name=words["language"])).to_have_value(language)
        await expect(page.locator("#message-log")).to_contain_text(words["incoming"])


async def test_the_language_switch_translates_the_page_at_once_and_is_remembered(
    page: Page, sqlite_server: RunningServer
) -> None:
    await page.goto("/app")
    await expect(page.get_by_role("heading", name="Charge your car with csms")).to_be_visible()
    switch = page.get_by_role("combobox", name="Language")
    await switch.select_option(label="日本語")
    await expect(page.get_by_role("heading", name="csms で充電する")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await expect(page.locator("#app-login").get_by_label("ユーザー名")).to_be_visible()
    await expect(page.get_by_role("combobox", name="言語")).to_have_value("ja")
    await expect(page).to_have_title("ログイン · csms 充電")

    await page.reload()  # the choice outranks the browser's English
    await expect(page.get_by_role("heading", name="csms で充電する")).to_be_visible()
    await page.get_by_role("combobox", name="言語").select_option(label="English")
    await expect(page.get_by_role("heading", name="Charge your car with csms")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_the_page_takes_the_first_of_the_browsers_languages_it_has(
    page: Page, sqlite_server: RunningServer
) -> None:
    # A French reader who also reads Japanese: csms has no French, so Japanese, not English.
    await page.add_init_script(
        "Object.defineProperty(navigator, 'languages', { get: () => ['fr-FR', 'ja-JP', 'en-US'] })"
    )
    await page.goto("/app")
    await expect(page.get_by_role("heading", name="csms で充電する")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")


# The relative luminance contrast of an element's text on the background it is drawn on (WCAG 2).
CONTRAST = """(selector) => {
  const node = document.querySelector(selector);
  const rgb = (color) => color.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const background = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const color = getComputedStyle(at).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(color) && color !== "transparent") return rgb(color);
    }
    return [255, 255, 255];
  };
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
  return { ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), background: background(node) };
}"""


async def contrast(page: Page, selector: str) -> Any:
    return await page.evaluate(CONTRAST, selector)


async def test_dark_mode_follows_the_system_and_keeps_the_text_readable(
    page: Page, sqlite_server: RunningServer
) -> None:
    await page.emulate_media(color_scheme="dark")
    await page.goto("/app")
    await expect(page.get_by_role("heading", name="Charge your car with csms")).to_be_visible()
    heading = await contrast(page, "#login-title")
    assert sum(heading["background"]) < 3 * 60, "the page is not dark"
    await page.locator("#app-login").get_by_role("button", name="Log in").click()  # an error message shows
    await expect(page.locator("#app-login-message")).not_to_be_empty()
    for selector in (
        "#login-title",
        "#app-signup-hint",
        "#app-signup label",
        "#app-login button",
        ".brand",
        "#app-login-message",
    ):
        assert (await contrast(page, selector))["ratio"] >= 4.5, selector
    await snap(page, "app-login-dark")
    await page.emulate_media(color_scheme="light")
    assert sum((await contrast(page, "#login-title"))["background"]) > 3 * 200, "light mode is not light"
