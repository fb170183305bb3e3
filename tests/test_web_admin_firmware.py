"""The console's Firmware page and a charger's Diagnostics card in a real browser: an operator uploads an image,
installs it on three simulated chargers (asked first) and watches each one's progress live; and asks a charger
for its diagnostics, which it uploads to csms's link, then downloads the file from the console."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
from playwright.async_api import Page, expect

from csms.simulator.charger import SimulatedCharger
from tests.conftest import RunningServer, bearer, create_account_with_role, login_as
from tests.operating import latest_request, online_charger
from tests.screens import check_page, snap_element
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]

WITHIN = 20.0  # seconds a simulated charger waits for csms's call on a busy machine


async def admin_headers(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username))


async def rollouts_of(http: httpx.AsyncClient, admin: dict[str, str], file_id: int) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await http.get("/api/admin/firmware/rollouts", headers=admin)).json()
    return [rollout for rollout in listed if rollout["firmware"]["id"] == file_id]


async def install(charger: SimulatedCharger, image: bytes) -> None:
    """What a charger does with UpdateFirmware: download the image over its link, report each step."""
    location = (await charger.wait_for_call("UpdateFirmware", within=WITHIN)).payload["location"]
    await charger.firmware_status("Downloading")
    async with httpx.AsyncClient() as plain:  # the charger: no bearer token, only the signed link
        downloaded = await plain.get(location)
    assert downloaded.content == image
    for status in ("Downloaded", "Installing", "Installed"):
        await charger.firmware_status(status)


async def test_an_operator_uploads_firmware_installs_it_on_three_chargers_and_watches_each_reach_installed(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    image = secrets.token_bytes(50_000)
    version = f"3.{secrets.randbelow(10_000)}.0"
    await log_in_as_admin(page, sqlite_server)
    async with (
        httpx.AsyncClient(base_url=sqlite_server.http_url) as http,
        online_charger(sqlite_server) as first,
        online_charger(sqlite_server) as second,
        online_charger(sqlite_server) as third,
    ):
        chargers = [first, second, third]
        admin = await admin_headers(sqlite_server, http)
        await page.get_by_role("link", name="Firmware", exact=True).click()
        upload = page.locator("#upload-firmware")
        file = {"name": "charger-fw.bin", "mimeType": "application/octet-stream", "buffer": image}
        await upload.get_by_label("Image file").set_input_files(file)  # type: ignore[arg-type]
        await upload.get_by_label("Version the chargers report once installed").fill(version)
        await upload.get_by_role("button", name="Upload").click()
        await expect(page.locator("#upload-firmware-message")).to_have_text(
            f"charger-fw.bin ({version}) uploaded (50 kB)."
        )
        stored = (await http.get("/api/admin/firmware", headers=admin)).json()[0]  # newest first
        assert (stored["version"], stored["size"]) == (version, 50_000)
        await expect(page.locator(f'[data-image="{stored["id"]}"]')).to_contain_text(f"charger-fw.bin{version}")

        rollout_form = page.locator("#start-rollout")
        await expect(rollout_form.get_by_label("Image")).to_have_value(str(stored["id"]))
        for charger in chargers:
            await rollout_form.get_by_label(f"Choose charger {charger.id}").check()
        await check_page(page, "Firmware", "admin-firmware")

        install_button = rollout_form.get_by_role("button", name="Install on the chosen chargers")
        await install_button.click()
        dialog = page.get_by_role("dialog", name=f"Install firmware charger-fw.bin ({version}) on 3 chargers?")
        await expect(dialog).to_contain_text("reboots")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(install_button).to_be_enabled()
        assert await rollouts_of(http, admin, stored["id"]) == []
        assert [call.action for call in first.received if call.action == "UpdateFirmware"] == []

        await install_button.click()
        await dialog.get_by_role("button", name="Install and reboot").click()
        await expect(page).to_have_url(re.compile(r"#/firmware/rollouts/\d+$"))
        await page.evaluate("window.notReloaded = true")
        [rollout] = await rollouts_of(http, admin, stored["id"])
        await expect(page.get_by_role("heading", name=f"Rollout {rollout['id']}")).to_be_visible()
        progress = {charger.id: page.locator(f'[data-rollout-charger="{charger.id}"] .badge') for charger in chargers}
        for charger in chargers:
            await expect(progress[charger.id]).to_have_text("Sent")  # the answers to UpdateFirmware, read back

        await install(first, image)
        await expect(progress[first.id]).to_have_text("Installed")
        await expect(progress[second.id]).to_have_text("Sent")
        for charger in (second, third):
            await install(charger, image)
        for charger in chargers:
            await expect(progress[charger.id]).to_have_text("Installed")
        await expect(page.locator("#rollout-counts")).to_have_text("Installed: 3")

        await first.boot(firmware_version=version)  # the reboot into the new version confirms it
        await expect(progress[first.id]).to_have_text("Confirmed")
        await expect(page.locator(f'[data-rollout-charger="{first.id}"]')).to_contain_text(version)
        await check_page(page, f"Rollout {rollout['id']}", "admin-firmware-rollout")
        await page.emulate_media(color_scheme="dark")
        await check_page(page, f"Rollout {rollout['id']}", "admin-firmware-rollout-dark")
        assert await page.evaluate("window.notReloaded") is True
        summary = (await http.get(f"/api/admin/firmware/rollouts/{rollout['id']}", headers=admin)).json()
    assert summary["counts"] == {"Confirmed": 1, "Installed": 2}


async def test_an_operator_requests_diagnostics_and_downloads_the_file_the_charger_uploaded(
    screen: Page, sqlite_server: RunningServer
) -> None:
    page = screen
    content = secrets.token_bytes(40_000)
    await log_in_as_admin(page, sqlite_server)
    async with (
        httpx.AsyncClient(base_url=sqlite_server.http_url) as http,
        online_charger(sqlite_server) as charger,
    ):
        admin = await admin_headers(sqlite_server, http)
        await page.goto(f"/admin#/chargers/{charger.id}")
        card = page.locator("#diagnostics-card")
        await expect(card.locator("tbody")).to_have_text("No diagnostics requested yet.")
        await card.get_by_role("button", name="Request diagnostics").click()
        location = (await charger.wait_for_call("GetDiagnostics", within=WITHIN)).payload["location"]
        request = await latest_request(http, admin, charger.id)
        await expect(page.locator("#diagnostics-message")).to_have_text(f"Request {request['id']}: Accepted.")
        row = card.locator(f'[data-request="{request["id"]}"]')
        await expect(row.locator(".badge")).to_have_text("Accepted")

        await charger.diagnostics_status("Uploading")
        await expect(row.locator(".badge")).to_have_text("Uploading")
        await expect(row).to_contain_text("not uploaded yet")
        async with httpx.AsyncClient() as plain:  # the charger: only the signed link
            uploaded = await plain.put(location, content=content, headers={"X-Filename": "cp.log"})
        assert uploaded.status_code == 201, uploaded.text
        await charger.diagnostics_status("Uploaded")
        await expect(row.locator(".badge")).to_have_text("Uploaded")
        await check_page(page, f"Charger {charger.id}", None)
        await snap_element(page, "#diagnostics-card", "admin-diagnostics")

        async with page.expect_download() as downloading:
            await row.get_by_role("button", name=f"Download the file of request {request['id']}").click()
        download = await downloading.value
    saved = await download.path()
    assert saved.read_bytes() == content
    assert download.suggested_filename == "diagnostics.log"  # the name the charger's answer gave
