"""The console's Roaming view in a real browser, against an eMSP peer of the test's own (tests/support/ocpi_peer.py):
an operator registers the peer (csms calls it), publishes a location with a charger (the peer receives it),
suspends the party after being asked; and issues a token A that a peer registers with, then unregisters it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import RunningServer, node_with
from tests.operating import online_charger
from tests.screens import check_page
from tests.support.ocpi_peer import EmspPeer
from tests.support.ocpi_setup import OWN, StartPeer, admin_client, peers
from tests.support.pages import log_in_as_admin
from tests.support.waiting import poll

if TYPE_CHECKING:
    from tests.browser import PageOpener

__all__ = ["peers"]  # a fixture of tests/support/ocpi_setup.py
pytest_plugins = ["tests.browser"]

ROAMING = "Roaming (OCPI)"


async def open_roaming(page: Page, node: RunningServer) -> None:
    await log_in_as_admin(page, node)
    await page.get_by_role("link", name="Roaming").click()
    await expect(page.get_by_role("heading", name=ROAMING)).to_be_visible()


async def party_state(node: RunningServer, peer: EmspPeer) -> str:
    async with admin_client(node) as admin:
        parties = (await admin.get("/api/admin/ocpi/parties")).json()
    (party,) = [
        each for each in parties if (each["country_code"], each["party_id"]) == (peer.country_code, peer.party_id)
    ]
    return str(party["state"])


async def _received(peer: EmspPeer, location_id: str | None) -> dict[str, Any] | None:
    return peer.locations.get(str(location_id))


async def fill_party(page: Page, peer: EmspPeer) -> None:
    form = page.locator("#register-party")
    await form.get_by_label("Country code").fill(peer.country_code)
    await form.get_by_label("Party id").fill(peer.party_id)
    await form.get_by_label("Role").select_option("EMSP")


async def publish_location(page: Page, charge_point_id: str) -> None:
    form = page.locator("#create-location")
    await form.get_by_label("Name").fill("Depot North")
    await form.get_by_label("Street and number").fill("Stationsplein 1")
    await form.get_by_label("City").fill("Amsterdam")
    await form.get_by_label("Country (ISO alpha-3)").fill("NLD")
    await form.get_by_label("Latitude").fill("52.3789")
    await form.get_by_label("Longitude").fill("4.9003")
    await form.get_by_label("Time zone").fill("Europe/Amsterdam")
    await form.get_by_label(f"Put charger {charge_point_id} at this location").check()
    await form.get_by_role("button", name="Publish location").click()


@pytest.mark.parametrize("width", ["phone", "desktop"])
async def test_an_operator_registers_an_emsp_publishes_a_location_it_receives_and_suspends_it(
    width: str, tmp_path: Path, page_on: PageOpener, peers: StartPeer
) -> None:
    peer = await peers()
    name = f"{peer.country_code} {peer.party_id}"
    async with node_with(tmp_path, **OWN) as node, online_charger(node) as charger, page_on(node, width) as page:
        charge_point_id = charger.id
        await open_roaming(page, node)
        await fill_party(page, peer)
        await page.get_by_label("Their versions URL (optional)").fill(peer.versions_url)
        await page.get_by_label("Their token A (optional)").fill(peer.issue_token())
        await page.get_by_role("button", name="Register party").click()
        await expect(page.locator("#register-party-message")).to_have_text(f"csms registered with {name}.")
        row = page.locator(f'[data-party="{name}"]')
        await expect(row).to_contain_text(f"{name}Peer eMSPEMSPRegistered{peer.versions_url}")
        assert peer.registered and await party_state(node, peer) == "REGISTERED"

        await publish_location(page, charge_point_id)
        await expect(page.locator("#create-location-message")).to_have_text(
            "Location Depot North is published with 1 charger(s)."
        )
        location = page.locator("#locations-table [data-location]")
        await expect(location).to_contain_text(f"Depot NorthStationsplein 1, Amsterdam, NLD{charge_point_id}Shown")
        location_id = await location.get_attribute("data-location")
        received = await poll(lambda: _received(peer, location_id), until=lambda found: found is not None, within=10)
        assert received is not None and received["name"] == "Depot North" and received["publish"] is True
        assert [evse["uid"] for evse in received["evses"]] == [f"{charge_point_id}-1"]
        await check_page(page, ROAMING, "admin-roaming")

        await row.get_by_role("button", name=f"Suspend party {name}").click()
        dialog = page.get_by_role("dialog", name=f"Suspend party {name}?")
        await expect(dialog).to_contain_text("csms will refuse the party's requests")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        assert await party_state(node, peer) == "REGISTERED"
        await row.get_by_role("button", name=f"Suspend party {name}").click()
        await dialog.get_by_role("button", name="Suspend the party").click()
        await expect(row).to_contain_text("Suspended")
        assert await party_state(node, peer) == "SUSPENDED"
        await page.emulate_media(color_scheme="dark")
        await check_page(page, ROAMING, "admin-roaming-dark")


async def test_an_operator_issues_a_token_a_the_emsp_registers_with_then_unregisters_it(
    tmp_path: Path, page_on: PageOpener, peers: StartPeer
) -> None:
    peer = await peers()
    name = f"{peer.country_code} {peer.party_id}"
    async with node_with(tmp_path, **OWN) as node, page_on(node, "desktop") as page:
        await open_roaming(page, node)
        await fill_party(page, peer)
        await page.get_by_role("button", name="Register party").click()
        await expect(page.locator("#register-party-message")).to_contain_text(f"Token A issued for {name}")
        versions_url = await page.locator("#issued-versions-url").text_content()
        token_a = await page.locator("#issued-token-a").text_content()
        row = page.locator(f'[data-party="{name}"]')
        await expect(row).to_contain_text("Pending")
        assert versions_url and token_a
        answer = await peer.register_with(versions_url, token_a)
        assert answer.json()["status_code"] == 1000, answer.text

        await page.get_by_role("link", name="Overview").click()
        await page.get_by_role("link", name="Roaming").click()
        await expect(row).to_contain_text("Registered")
        await expect(page.locator("#issued-token")).to_be_hidden()

        await row.get_by_role("button", name=f"Unregister party {name}").click()
        dialog = page.get_by_role("dialog", name=f"Unregister party {name}?")
        await dialog.get_by_role("button", name="Cancel").click()
        assert await party_state(node, peer) == "REGISTERED"
        await row.get_by_role("button", name=f"Unregister party {name}").click()
        await dialog.get_by_role("button", name="Unregister the party").click()
        await expect(page.locator("#roaming-message")).to_have_text(f"Party {name} is unregistered.")
        await expect(row).to_have_count(0)
        assert not peer.registered
        async with admin_client(node) as admin:
            assert (await admin.get("/api/admin/ocpi/parties")).json() == []
