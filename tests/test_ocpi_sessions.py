"""OCPI 2.2.1 sessions and CDRs with csms as the SENDER, against an eMSP peer of its own (tests/support/ocpi_peer.py)
and simulated 1.6 chargers: the peer's RFID card starts a charge on a published, priced charger, and the peer gets
the Session (PUT ACTIVE, PATCHes, COMPLETED) and the CDR with the energy of the meter readings and the cost csms's
own record says; also when the peer was away at the stop, and across a restart of csms. The peer pulls both lists
page by page. A charge on csms's own tag tells no eMSP. The peer checks every object by the spec's field rules and
fails the test on any rule broken."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from sqlalchemy import update

from csms.db.models import OcpiTransactionToken
from csms.simulator.charger import SimulatedCharger, now_iso
from tests.conftest import (
    RunningServer,
    node_with,
    settings_for,
    start_server,
    stop_server,
)
from tests.operating import online_charger
from tests.support.ocpi_peer import EmspPeer
from tests.support.ocpi_setup import OWN, StartPeer, admin_client, database, peers, register
from tests.support.waiting import poll

__all__ = ["database", "peers"]  # fixtures of tests/support/ocpi_setup.py

SETTINGS = {**OWN, "ocpi_session_update_interval": 0}  # every meter value PATCHes the Session
RECEIVES = ("locations", "tariffs", "sessions", "cdrs")
PLACE = {
    "name": "Depot North",
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "postal_code": "1012 AB",
    "country": "NLD",
    "latitude": 52.3789,
    "longitude": 4.9003,
    "time_zone": "Europe/Amsterdam",
}
PRICES = {"price_per_kwh": "0.40", "session_fee": "1.00", "tax_rate": "0.21"}


@pytest.fixture(scope="module")
async def server(database: str) -> AsyncIterator[RunningServer]:
    handle, task, running = await start_server(settings_for(database, **SETTINGS))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server) as client:
        yield client


@pytest.fixture
async def emsp(admin: httpx.AsyncClient, peers: StartPeer) -> tuple[EmspPeer, dict[str, str]]:
    peer = await peers(receives=RECEIVES)
    return peer, await register(admin, peer)


async def _rfid(peer: EmspPeer, endpoints: dict[str, str]) -> dict[str, Any]:
    """The peer pushes an RFID card of its own (whitelist ALWAYS: csms never asks it in real time)."""
    token = peer.token(secrets.token_hex(7).upper(), whitelist="ALWAYS")
    response = await peer.push_token(endpoints["tokens"], token)
    assert response.json()["status_code"] == 1000, response.text
    return token


async def _priced_location(admin: httpx.AsyncClient, charge_point_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    tariff = (await admin.post("/api/admin/tariffs", json={"name": "AC", "currency": "EUR", **PRICES})).json()
    assigned = await admin.post(
        "/api/admin/tariff_assignments", json={"tariff_id": tariff["id"], "charge_point_id": charge_point_id}
    )
    assert assigned.status_code == 201, assigned.text
    response = await admin.post("/api/admin/ocpi/locations", json={**PLACE, "charge_point_ids": [charge_point_id]})
    assert response.status_code == 201, response.text
    return response.json(), tariff


async def _charge(charger: SimulatedCharger, uid: str, readings: list[int], *, seen_by: EmspPeer | None = None) -> int:
    """A charge on connector 1: started at 1000 Wh, the readings sent as MeterValues, stopped at the last; with
    `seen_by`, each reading waits until that peer's Session shows it."""
    started = await charger.start_transaction(1, uid, meter_start=1000)
    assert started.id_tag_info["status"] == "Accepted"
    transaction_id: int = started.transaction_id
    await charger.status(1, "Charging")
    for wh in readings:
        await charger.meter_values(1, transaction_id, wh)
        if seen_by is not None:
            await _session_shows(seen_by, transaction_id, (wh - 1000) / 1000)
    await charger.stop_transaction(transaction_id, readings[-1])
    return transaction_id


async def _cdr_of(peer: EmspPeer, transaction_id: int, *, within: float = 20) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        return next((cdr for cdr in peer.cdrs if cdr["id"] == str(transaction_id)), None)

    cdr = await poll(find, until=lambda found: found is not None, within=within)
    assert cdr is not None, f"no CDR of {transaction_id}: {[s.path for s in peer.seen]}"
    return cdr


async def _session_shows(peer: EmspPeer, transaction_id: int, kwh: float) -> None:
    async def find() -> dict[str, Any] | None:
        return peer.sessions.get(str(transaction_id))

    await poll(find, until=lambda found: found is not None and found["kwh"] == kwh, within=20)


def _session_pushes(peer: EmspPeer, transaction_id: int) -> list[tuple[str, Any]]:
    return [
        (seen.method, seen.body) for seen in peer.pushes if seen.path.endswith(f"/sessions/NL/CSM/{transaction_id}")
    ]


async def test_an_emsp_card_charging_at_a_priced_charger_gets_its_session_and_a_cdr_as_csms_billed_it(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    token = await _rfid(peer, endpoints)
    async with online_charger(server) as charger:
        location, tariff = await _priced_location(admin, charger.id)
        transaction_id = await _charge(charger, token["uid"], [3000, 6000, 13500], seen_by=peer)
        cdr = await _cdr_of(peer, transaction_id)

    record = (await admin.get(f"/api/transactions/{transaction_id}")).json()
    assert record["energy_wh"] == 12500 and record["cost"] is not None
    breakdown = record["cost_breakdown"]
    # The CDR: the energy of the meter readings, csms's cost (net and with tax), the tariff applied, where.
    assert cdr["total_energy"] == 12.5
    assert cdr["total_cost"] == {"excl_vat": float(breakdown["net"]), "incl_vat": float(record["cost"])}
    assert Decimal(record["cost"]) == (Decimal("12.5") * Decimal("0.40") + 1) * Decimal("1.21")
    assert cdr["total_energy_cost"] == {"excl_vat": 5.0} and cdr["total_fixed_cost"] == {"excl_vat": 1.0}
    assert cdr["currency"] == "EUR" and cdr["session_id"] == str(transaction_id)
    assert [t["id"] for t in cdr["tariffs"]] == [str(tariff["id"])]
    assert cdr["cdr_token"] == {
        "country_code": peer.country_code,
        "party_id": peer.party_id,
        "uid": token["uid"],
        "type": "RFID",
        "contract_id": token["contract_id"],
    }
    assert cdr["auth_method"] == "WHITELIST"
    place = cdr["cdr_location"]
    assert (place["id"], place["evse_uid"], place["connector_id"]) == (str(location["id"]), f"{charger.id}-1", "1")
    assert place["connector_standard"] == "IEC_62196_T2" and place["address"] == PLACE["address"]
    energy = sum(d["volume"] for p in cdr["charging_periods"] for d in p["dimensions"] if d["type"] == "ENERGY")
    assert energy == pytest.approx(12.5)
    assert cdr["charging_periods"][0]["tariff_id"] == str(tariff["id"])

    # The Session: PUT ACTIVE at the start, PATCHed with the energy so far, then COMPLETED with the cost.
    pushes = _session_pushes(peer, transaction_id)
    assert pushes[0][0] == "PUT" and pushes[0][1]["status"] == "ACTIVE"
    assert pushes[0][1]["cdr_token"] == cdr["cdr_token"] and pushes[0][1]["location_id"] == str(location["id"])
    patches = [body for method, body in pushes if method == "PATCH"]
    assert patches and patches[-1]["status"] == "COMPLETED"
    assert [body["kwh"] for body in patches if body["status"] == "ACTIVE"] == [2.0, 5.0, 12.5]
    final = peer.sessions[str(transaction_id)]
    assert final["status"] == "COMPLETED" and final["kwh"] == 12.5 and final["total_cost"] == cdr["total_cost"]
    assert final["end_date_time"] == cdr["end_date_time"]


async def test_signed_meter_values_of_the_charger_are_in_the_cdr_as_sent(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    token = await _rfid(peer, endpoints)
    blob = "OCMF|" + json.dumps({"FV": "1.0", "RD": [{"RV": 2.5, "RU": "kWh"}]}) + '|{"SD": "3045022100ab"}'
    async with online_charger(server) as charger:
        await _priced_location(admin, charger.id)
        started = await charger.start_transaction(1, token["uid"], meter_start=0)
        transaction_id = started.transaction_id
        at = now_iso()
        sampled = [
            {"value": "2500", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Transaction.End"},
            {"value": blob, "format": "SignedData", "context": "Transaction.End"},
        ]
        await charger.call(
            call.MeterValues(
                connector_id=1, transaction_id=transaction_id, meter_value=[{"timestamp": at, "sampledValue": sampled}]
            )
        )
        await charger.stop_transaction(transaction_id, 2500)
        cdr = await _cdr_of(peer, transaction_id)
    assert cdr["signed_data"] == {
        "encoding_method": "OCMF",
        "signed_values": [{"nature": "End", "plain_data": "2500", "signed_data": blob}],
    }


async def test_a_charge_on_csms_own_tag_tells_no_emsp(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    roaming = await _rfid(peer, endpoints)
    own_tag = f"OWN{secrets.token_hex(4).upper()}"
    assert (await admin.post("/api/admin/id_tags", json={"id_tag": own_tag})).status_code == 201
    async with online_charger(server) as charger:
        await _priced_location(admin, charger.id)
        own_id = await _charge(charger, own_tag, [2000, 4000])
        roaming_id = await _charge(charger, roaming["uid"], [5000, 6000])
        await _cdr_of(peer, roaming_id)  # the later charge arrived: the earlier one would be here by now
    assert _session_pushes(peer, own_id) == []
    assert [cdr["id"] for cdr in peer.cdrs] == [str(roaming_id)]


async def test_the_cdr_the_emsp_missed_while_away_arrives_when_it_is_back(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    token = await _rfid(peer, endpoints)
    async with online_charger(server) as charger:
        await _priced_location(admin, charger.id)
        started = await charger.start_transaction(1, token["uid"], meter_start=0)
        transaction_id = started.transaction_id
        await charger.meter_values(1, transaction_id, 1500)
        await poll(lambda: _async(peer.sessions.get(str(transaction_id))), until=lambda s: s is not None, within=20)
        peer.away = True
        since = len(peer.seen)
        await charger.stop_transaction(transaction_id, 4000)
        await poll(lambda: _async(_refused(peer, since)), until=lambda attempts: attempts >= 2, within=20)  # retried
        assert peer.cdrs == []
        peer.away = False
        cdr = await _cdr_of(peer, transaction_id)
    assert cdr["total_energy"] == 4.0
    assert peer.sessions[str(transaction_id)]["status"] == "COMPLETED"


async def test_a_cdr_queued_when_csms_stops_is_sent_after_its_restart(tmp_path: Path, peers: StartPeer) -> None:
    peer = await peers(receives=RECEIVES)
    # Retries 1, 2, 4 s apart: the party's pushes go in order, so the CDR waits behind the Session pushes the
    # away peer refused, each on its own backoff (10 s, 20 s... by default: beyond the wait below on a busy machine).
    settings = {**SETTINGS, "ocpi_push_retry_base": 1}
    async with node_with(tmp_path, **settings) as node, admin_client(node) as admin:
        endpoints = await register(admin, peer)
        token = await _rfid(peer, endpoints)
        async with online_charger(node) as charger:
            location, _ = await _priced_location(admin, charger.id)
            # What came before is delivered: the peer is away for the charge alone.
            await poll(lambda: _async(peer.locations.get(str(location["id"]))), until=lambda got: got is not None)
            peer.away = True
            since = len(peer.seen)
            transaction_id = await _charge(charger, token["uid"], [2000, 3000])
            await poll(lambda: _async(_refused(peer, since)), until=lambda attempts: attempts >= 1, within=20)
            expected = (await admin.get(f"/api/transactions/{transaction_id}")).json()
    assert peer.cdrs == []
    peer.away = False
    async with node_with(tmp_path, **settings):
        cdr = await _cdr_of(peer, transaction_id)
    assert cdr["total_energy"] == 2.0
    assert cdr["total_cost"]["incl_vat"] == float(expected["cost"])
    assert peer.sessions[str(transaction_id)]["status"] == "COMPLETED"


async def test_the_emsp_pulls_its_own_sessions_and_cdrs_page_by_page(
    server: RunningServer, admin: httpx.AsyncClient, peers: StartPeer
) -> None:
    peer, other = await peers(receives=RECEIVES), await peers(receives=RECEIVES)
    endpoints, other_endpoints = await register(admin, peer), await register(admin, other)
    token, other_token = await _rfid(peer, endpoints), await _rfid(other, other_endpoints)
    async with online_charger(server) as charger:
        await _priced_location(admin, charger.id)
        mine = [await _charge(charger, token["uid"], [1000 + 500 * n, 2000 + 500 * n]) for n in range(3)]
        theirs = await _charge(charger, other_token["uid"], [3000])
        running = (await charger.start_transaction(1, token["uid"], meter_start=5000)).transaction_id
        await _cdr_of(peer, mine[-1])

    sessions, pages = await peer.crawl(endpoints["sessions"])
    assert [s["id"] for s in sessions] == [str(t) for t in [*mine, running]]
    assert len(pages) == 2 and pages[0].headers["X-Total-Count"] == "4" and pages[0].headers["X-Limit"] == "2"
    assert [s["status"] for s in sessions] == ["COMPLETED"] * 3 + ["ACTIVE"]
    cdrs, _ = await peer.crawl(endpoints["cdrs"])
    assert [c["id"] for c in cdrs] == [str(t) for t in mine]
    assert cdrs == [next(c for c in peer.cdrs if c["id"] == cdr["id"]) for cdr in cdrs]  # as pushed
    assert str(theirs) not in {s["id"] for s in sessions}
    other_cdrs, _ = await other.crawl(other_endpoints["cdrs"])
    assert [c["id"] for c in other_cdrs] == [str(theirs)]

    # date_from is inclusive and date_to exclusive, on last_updated.
    second = cdrs[1]["last_updated"]
    url = f"{endpoints['cdrs']}?date_from={second}"
    later, _ = await peer.crawl(url)
    assert str(mine[0]) not in {c["id"] for c in later} or cdrs[0]["last_updated"] == second
    assert str(mine[1]) in {c["id"] for c in later}
    earlier, _ = await peer.crawl(f"{endpoints['cdrs']}?date_to={second}")
    assert str(mine[1]) not in {c["id"] for c in earlier}
    for each in (*sessions, *cdrs):
        assert not peer.violations, peer.violations
        assert each["country_code"] == "NL" and each["party_id"] == "CSM"


async def _async(value: Any) -> Any:
    return value


def _refused(peer: EmspPeer, since: int) -> int:
    """The pushes the peer turned away since the `since`-th request it saw (the Session's, or an EVSE status
    before it: a party gets its pushes in order)."""
    return sum(1 for seen in peer.seen[since:] if seen.method in ("PUT", "PATCH", "POST"))


async def test_a_charge_whose_cdr_a_stopped_node_never_queued_is_found_by_the_sweep_and_sent_once(
    tmp_path: Path, peers: StartPeer
) -> None:
    peer = await peers(receives=RECEIVES)
    async with node_with(tmp_path, **SETTINGS, ocpi_cdr_sweep_interval=0.5) as node, admin_client(node) as admin:
        endpoints = await register(admin, peer)
        token = await _rfid(peer, endpoints)
        async with online_charger(node) as charger:
            await _priced_location(admin, charger.id)
            transaction_id = await _charge(charger, token["uid"], [2500])
            await _cdr_of(peer, transaction_id)
        # As if the node had stopped between the charge's stop and queueing its CDR: nothing queued, none sent.
        async with node.session() as session:
            await session.execute(
                update(OcpiTransactionToken)
                .where(OcpiTransactionToken.transaction_id == transaction_id)
                .values(cdr_queued_at=None)
            )
            await session.commit()
        peer.cdrs.clear()
        cdr = await _cdr_of(peer, transaction_id)
        await asyncio.sleep(2)  # a few more sweeps: the CDR is claimed, none queues it again
    assert cdr["total_energy"] == 1.5
    assert [c["id"] for c in peer.cdrs] == [str(transaction_id)]
