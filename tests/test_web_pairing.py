"""Stickers in a real browser: the printed sheet decodes, its link opens the app paired, the camera scans it."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import segno
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page, expect

from csms.services import pairing
from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, USER_PASSWORD, RunningServer, dependency_missing, new_username
from tests.screens import snap
from tests.support.pages import log_in_as_admin, sign_up

pytest_plugins = ["tests.browser"]

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}
# A4 at CSS's 96 px to the inch: 210 x 297 mm.
A4 = {"width": 794, "height": 1123}
FIVE_CM_PX = 5 / 2.54 * 96


async def charger_with_connectors(server: RunningServer, count: int) -> str:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        for connector_id in range(1, count + 1):
            await charger.status(connector_id, "Available")
    return charge_point_id


def sticker_link(server: RunningServer, charge_point_id: str, connector_id: int) -> str:
    return pairing.sticker_link(server.app_runtime.sticker_key, server.http_url, charge_point_id, connector_id)


async def test_every_qr_on_the_printed_sticker_sheet_decodes_to_its_connectors_link(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await charger_with_connectors(sqlite_server, 5)
    await log_in_as_admin(page, sqlite_server)
    await page.goto(f"/admin#/chargers/{charge_point_id}")
    async with page.context.expect_page() as opened:
        await page.get_by_role("button", name="Open the printable sticker sheet").click()
    sheet = await opened.value
    await sheet.wait_for_load_state()
    await sheet.emulate_media(media="print")
    await sheet.set_viewport_size(A4)
    await expect(sheet.locator("figure svg")).to_have_count(5)
    for box in [await svg.bounding_box() for svg in await sheet.locator("figure svg").all()]:
        assert box is not None and abs(box["width"] - FIVE_CM_PX) < 1 and abs(box["height"] - FIVE_CM_PX) < 1
    screenshot = await sheet.screenshot(full_page=True)
    decoded = [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(screenshot)))]
    assert sorted(decoded) == sorted(sticker_link(sqlite_server, charge_point_id, n) for n in range(1, 6))


async def test_opening_a_sticker_link_signs_up_and_shows_the_paired_connector(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await charger_with_connectors(sqlite_server, 2)
    await page.goto(sticker_link(sqlite_server, charge_point_id, 2))
    await expect(page.locator("#login-pairing")).to_have_text(
        f"Log in or create an account to charge at {charge_point_id} · connector 2."
    )
    signup = page.locator("#app-signup")
    await signup.get_by_label("Username").fill(new_username("driver"))
    await signup.get_by_label("Password").fill(USER_PASSWORD)
    await signup.get_by_role("button", name="Create account").click()
    await expect(page.locator("#paired-title")).to_have_text(f"{charge_point_id} · connector 2")
    await expect(page.locator("#paired-status")).to_have_text("Available")
    assert page.url == f"{sqlite_server.http_url}/app#/charge"


async def test_a_logged_in_driver_opening_a_sticker_link_is_paired_at_once(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await charger_with_connectors(sqlite_server, 1)
    await sign_up(page)
    await page.goto(sticker_link(sqlite_server, charge_point_id, 1))
    await expect(page.locator("#paired-title")).to_have_text(f"{charge_point_id} · connector 1")
    await page.reload()  # the link is used once: a reload shows the app, not a second pairing
    await expect(page.get_by_role("heading", name="Start charging")).to_be_visible()
    await expect(page.locator("#paired")).to_be_hidden()


async def test_the_seeds_ocpp_code_typed_into_the_id_field_pairs(page: Page, sqlite_server: RunningServer) -> None:
    charge_point_id = await charger_with_connectors(sqlite_server, 3)
    await sign_up(page)
    await page.get_by_label("Charger id").fill(f"ocpp://{charge_point_id}?connector=3")
    await page.get_by_role("button", name="Find charger").click()
    await expect(page.locator("#paired-title")).to_have_text(f"{charge_point_id} · connector 3")


def write_y4m(path: Path, picture: Image.Image, frames: int = 3) -> None:
    """A video file Chromium plays as its fake camera: 4:2:0 YUV, the picture in grey."""
    grey = picture.convert("L")
    width, height = grey.size
    chroma = bytes([128]) * (width // 2 * (height // 2))
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + grey.tobytes() + chroma + chroma)


def camera_picture(text: str | None) -> Image.Image:
    """What the camera sees: a sticker's QR code in the middle of a white frame, or no code at all."""
    frame = Image.new("L", (640, 480), 255)
    if text is not None:
        buffer = io.BytesIO()
        segno.make(text, error="m").save(buffer, kind="png", scale=7, border=4)
        code = Image.open(buffer)
        frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    return frame


@asynccontextmanager
async def camera_phone(tmp_path: Path, server: RunningServer, picture: Image.Image) -> AsyncIterator[Page]:
    """A 360 px page in a Chromium whose camera films `picture`; the test fails if its JavaScript erred."""
    async with camera_browser(tmp_path, picture) as browser:
        context = await browser.new_context(base_url=server.http_url, viewport=PHONE, locale="en-US")  # type: ignore[arg-type]
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        await context.close()
    assert errors == [], "the page logged JavaScript errors"


@asynccontextmanager
async def camera_browser(tmp_path: Path, picture: Image.Image) -> AsyncIterator[Browser]:
    """Chromium whose camera films `picture` (--use-file-for-fake-video-capture), allowed without asking."""
    from playwright.async_api import async_playwright

    if not os.access(CHROMIUM, os.X_OK):
        dependency_missing(f"Chromium at {CHROMIUM} (make browser)")
    video = tmp_path / "camera.y4m"
    write_y4m(video, picture)
    arguments = [
        "--no-sandbox",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=arguments)
        yield browser
        await browser.close()


async def test_the_app_scans_a_sticker_with_the_camera_through_its_own_decoder(
    tmp_path: Path, sqlite_server: RunningServer
) -> None:
    charge_point_id = await charger_with_connectors(sqlite_server, 2)
    link = sticker_link(sqlite_server, charge_point_id, 2)
    async with camera_phone(tmp_path, sqlite_server, camera_picture(link)) as page:
        requests: list[str] = []
        page.on("request", lambda sent: requests.append(sent.url))
        await sign_up(page)
        # Debian's Chromium has no BarcodeDetector (as Firefox and iOS Safari): the vendored decoder reads it.
        assert await page.evaluate("'BarcodeDetector' in window") is False
        await page.get_by_role("button", name="Scan the charger's QR code").click()
        await expect(page.locator("#paired-title")).to_have_text(f"{charge_point_id} · connector 2", timeout=20_000)
        await expect(page.locator("#camera")).to_be_hidden()
        await expect(page.get_by_role("button", name="Cancel scanning")).to_be_hidden()
        assert any(url.endswith("/zxing_reader.wasm") for url in requests)
        assert all(url.startswith((sqlite_server.http_url, "blob:", "data:")) for url in requests), requests
        await snap(page, "app-scan")


async def test_scanning_can_be_cancelled_and_gives_up_after_its_timeout(
    tmp_path: Path, sqlite_server: RunningServer
) -> None:
    async with camera_phone(tmp_path, sqlite_server, camera_picture(None)) as page:
        await sign_up(page)
        scan = page.get_by_role("button", name="Scan the charger's QR code")
        await scan.click()
        await expect(page.locator("#camera")).to_be_visible()
        await page.get_by_role("button", name="Cancel scanning").click()
        await expect(page.locator("#charge-message")).to_have_text("Scanning cancelled.")
        await expect(page.locator("#camera")).to_be_hidden()
        assert await page.evaluate("document.querySelector('#camera').srcObject") is None

        await page.clock.install()
        await scan.click()
        await expect(page.locator("#camera")).to_be_visible()
        await page.clock.fast_forward(61_000)
        await expect(page.locator("#charge-message")).to_have_text(
            "No QR code found. Try again closer to the sticker, or type the charger id."
        )
        await expect(scan).to_be_visible()
