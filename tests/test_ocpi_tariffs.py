"""OCPI 2.2.1 tariffs with csms as the SENDER, against an eMSP peer of its own (tests/support/ocpi_peer.py): the peer
pulls csms's tariffs page by page in OCPI form (energy, time, parking and flat components net of tax with the VAT,
step sizes, the currency), and a new tariff reaches it as a PUT. The peer checks every Tariff by the spec's field
rules and fails the test on any rule broken."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import (
    RunningServer,
    settings_for,
    start_server,
    stop_server,
)
from tests.support import ocpi_objects
from tests.support.ocpi_setup import OWN, StartPeer, admin_client, database, peers, register
from tests.support.waiting import poll

__all__ = ["database", "peers"]  # fixtures of tests/support/ocpi_setup.py


@pytest.fixture(scope="module")
async def server(database: str) -> AsyncIterator[RunningServer]:
    handle, task, running = await start_server(settings_for(database, **OWN))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server) as client:
        yield client


async def _tariff(admin: httpx.AsyncClient, **prices: str) -> dict[str, Any]:
    response = await admin.post("/api/admin/tariffs", json={"name": "Public AC", "currency": "eur", **prices})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_emsp_pulls_csms_tariffs_in_ocpi_form_page_by_page(admin: httpx.AsyncClient, peers: StartPeer) -> None:
    peer = await peers()
    endpoints = await register(admin, peer)
    full = await _tariff(
        admin,
        price_per_kwh="0.39",
        price_per_charging_minute="0.05",
        price_per_idle_minute="0.10",
        session_fee="1.50",
        tax_rate="0.21",
    )
    free = await _tariff(admin)
    energy_only = await _tariff(admin, price_per_kwh="0.25")

    items, pages = await peer.crawl(endpoints["tariffs"], limit=1)

    assert {int(page.headers["x-total-count"]) for page in pages} == {len(items)} and len(pages) == len(items)
    for item in items:
        assert ocpi_objects.check_tariff(item, "GET tariffs") == []
    by_id = {item["id"]: item for item in items}
    assert {str(t["id"]) for t in (full, free, energy_only)} <= set(by_id)
    pulled = by_id[str(full["id"])]
    assert (pulled["country_code"], pulled["party_id"], pulled["currency"]) == ("NL", "CSM", "EUR")
    assert pulled["elements"] == [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.39, "vat": 21.0, "step_size": 1},
                {"type": "TIME", "price": 3.0, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6.0, "vat": 21.0, "step_size": 1},
                {"type": "FLAT", "price": 1.5, "vat": 21.0, "step_size": 1},
            ]
        }
    ]
    assert by_id[str(free["id"])]["elements"] == [
        {"price_components": [{"type": "FLAT", "price": 0.0, "vat": 0.0, "step_size": 0}]}
    ]
    assert [c["type"] for c in by_id[str(energy_only["id"])]["elements"][0]["price_components"]] == ["ENERGY"]


async def test_tariffs_are_pulled_by_when_they_were_created(admin: httpx.AsyncClient, peers: StartPeer) -> None:
    peer = await peers()
    endpoints = await register(admin, peer)
    before = await _tariff(admin, price_per_kwh="0.30")
    after = await _tariff(admin, price_per_kwh="0.31")
    since = after["created_at"]

    newer, _ = await peer.crawl(f"{endpoints['tariffs']}?date_from={since}")
    older, _ = await peer.crawl(f"{endpoints['tariffs']}?date_to={since}")
    backwards = await peer.call_csms(
        "GET", f"{endpoints['tariffs']}?date_from={since}&date_to={since}", token=peer.csms_token
    )

    newer_ids, older_ids = {item["id"] for item in newer}, {item["id"] for item in older}
    assert str(after["id"]) in newer_ids and str(after["id"]) not in older_ids
    assert not newer_ids & older_ids
    assert str(before["id"]) in newer_ids | older_ids
    assert (backwards.status_code, backwards.json()["status_code"]) == (200, 2001)


async def test_a_new_tariff_reaches_every_registered_emsp_as_a_put(admin: httpx.AsyncClient, peers: StartPeer) -> None:
    first, second = await peers(), await peers()
    for peer in (first, second):
        await register(admin, peer)
    tariff = await _tariff(admin, price_per_kwh="0.42", tax_rate="0.19")

    for peer in (first, second):
        pushed = await poll(
            lambda peer=peer: _async(peer.tariffs.get(str(tariff["id"]))), until=lambda body: body is not None
        )
        assert pushed["elements"][0]["price_components"] == [
            {"type": "ENERGY", "price": 0.42, "vat": 19.0, "step_size": 1}
        ]
        (put,) = [seen for seen in peer.pushes if seen.path.endswith(f"/{tariff['id']}")]
        assert (put.method, put.path) == ("PUT", f"/emsp/2.2.1/tariffs/NL/CSM/{tariff['id']}")


async def _async(value: Any) -> Any:
    return value
