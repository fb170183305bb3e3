"""OCPI 2.2.1 tokens with csms as the receiver, against an eMSP peer of its own (tests/support/ocpi_peer.py): the
peer pushes its tokens, a charger's driver presents one, csms answers the charger from the stored token or asks
the eMSP in real time, within its deadline. The peer fails the test on any request or answer that breaks 2.2.1."""

from __future__ import annotations

import base64
import itertools
import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from csms.db.models import OcpiTransactionToken
from csms.simulator.charger import SimulatedCharger, connect_charger
from csms.simulator.station201 import connect_station
from tests.conftest import (
    BACKENDS,
    CHARGER_PASSWORD,
    RunningServer,
    fresh_database,
    settings_for,
    start_server,
    stop_server,
)
from tests.support.ocpi_peer import EmspPeer, start_peer, stop_peer
from tests.support.ocpi_setup import admin_client
from tests.support.waiting import wait_for_true

OWN = {
    "ocpi_country_code": "DE",
    "ocpi_party_id": "CSM",
    "ocpi_business_name": "csms test CPO",
    "ocpi_allow_private_peers": True,  # the eMSP peer runs on this machine
}
DEADLINE = 1.0  # CSMS_OCPI_AUTHORIZE_TIMEOUT of the node under test
SLOW = 6.0  # a slow eMSP answers well past it
StartPeer = Callable[..., Awaitable["Emsp"]]


class Emsp:
    """A peer registered with csms, and csms's tokens endpoint as the peer found it."""

    def __init__(self, peer: EmspPeer, tokens_url: str) -> None:
        self.peer, self.tokens_url = peer, tokens_url

    async def push(self, uid: str, **fields: Any) -> dict[str, Any]:
        token = self.peer.token(uid, **fields)
        response = await self.peer.push_token(self.tokens_url, token)
        assert _ocpi(response) == (200, 1000), response.text
        return token

    async def patch(self, token: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        return await self.peer.push_token(self.tokens_url, token, method="PATCH", body=body)

    async def get(self, token: dict[str, Any]) -> httpx.Response:
        url = f"{self.tokens_url}/{token['country_code']}/{token['party_id']}/{token['uid']}?type={token['type']}"
        return await self.peer.call_csms("GET", url, token=self.peer.csms_token, routing=self.peer.routing_to_csms())


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
async def csms(database: str) -> AsyncIterator[RunningServer]:
    handle, task, running = await start_server(settings_for(database, **OWN, ocpi_authorize_timeout=DEADLINE))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(csms: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(csms) as client:
        yield client


@pytest.fixture
async def emsps(admin: httpx.AsyncClient) -> AsyncIterator[StartPeer]:
    """Registers eMSP peers with csms (the credentials handshake); afterwards, every OCPI rule csms broke fails
    the test."""
    running = []

    async def start() -> Emsp:
        peer = EmspPeer(country_code="NL", party_id=_new_party_id())
        running.append(await start_peer(peer))
        response = await admin.post(
            "/api/admin/ocpi/parties", json={"country_code": peer.country_code, "party_id": peer.party_id}
        )
        assert response.status_code == 201, response.text
        party = response.json()
        answer = await peer.register_with(party["csms_versions_url"], party["token_a"])
        assert answer.json()["status_code"] == 1000, answer.text
        endpoints = await peer.discover_csms(party["csms_versions_url"], peer.csms_token or "")
        return Emsp(peer, endpoints["tokens"])

    yield start
    for each in running:
        each.peer.authorize_delay = 0
        await stop_peer(each)
    violations = [violation for each in running for violation in each.peer.violations]
    assert violations == [], "csms broke OCPI 2.2.1:\n" + "\n".join(violations)


@pytest.fixture
async def emsp(emsps: StartPeer) -> Emsp:
    return await emsps()


@pytest.fixture
async def charger(csms: RunningServer) -> AsyncIterator[SimulatedCharger]:
    charge_point_id = await csms.add_charger()
    async with connect_charger(csms.ws_url, charge_point_id, CHARGER_PASSWORD) as connected:
        await connected.boot()
        yield connected


_PARTY_IDS = iter(itertools.product(string.ascii_uppercase + string.digits, repeat=3))


def _new_party_id() -> str:
    """A party id no other test of the module took: the module's tests share one database, where a random
    3-character id collided once in a few hundred runs."""
    return "".join(next(_PARTY_IDS))


def _new_uid() -> str:
    return secrets.token_hex(7).upper()  # 14 hex digits, as a 7-byte RFID uid reads


def _ocpi(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["status_code"]


async def _authorized(charger: SimulatedCharger, uid: str) -> str:
    status: str = (await charger.authorize(uid)).id_tag_info["status"]
    return status


async def _roaming_record(csms: RunningServer, transaction_id: int) -> OcpiTransactionToken | None:
    async with csms.session() as session:
        query = select(OcpiTransactionToken).where(OcpiTransactionToken.transaction_id == transaction_id)
        return (await session.execute(query)).scalar_one_or_none()


# -- the eMSP's tokens in csms ---------------------------------------------------------------------------------


async def test_version_details_offer_the_tokens_receiver(emsp: Emsp) -> None:
    assert emsp.tokens_url.endswith("/ocpi/2.2.1/tokens")


async def test_the_registration_token_opens_no_tokens(emsp: Emsp, admin: httpx.AsyncClient) -> None:
    newcomer = EmspPeer(country_code="NL", party_id=_new_party_id())
    added = await admin.post(
        "/api/admin/ocpi/parties", json={"country_code": newcomer.country_code, "party_id": newcomer.party_id}
    )
    token = newcomer.token(_new_uid())
    url = f"{emsp.tokens_url}/{token['country_code']}/{token['party_id']}/{token['uid']}"
    response = await newcomer.call_csms("PUT", url, token=added.json()["token_a"], body=token)
    assert _ocpi(response) == (401, 2000)
    assert newcomer.violations == []


async def test_an_emsp_puts_an_rfid_token_and_reads_back_what_it_sent(emsp: Emsp, admin: httpx.AsyncClient) -> None:
    uid = _new_uid()
    token = await emsp.push(
        uid, visual_number="DF000-2001-8999-1", group_id="GROUP-1", language="nl", default_profile_type="GREEN"
    )
    response = await emsp.get(token)
    assert _ocpi(response) == (200, 1000)
    emsp.peer.check_token(response.json()["data"], "csms's GET token")
    assert response.json()["data"] == token
    listed = await admin.get("/api/admin/ocpi/tokens", params={"party_id": emsp.peer.party_id, "uid": uid.lower()})
    assert listed.status_code == 200, listed.text
    assert listed.headers["X-Total-Count"] == "1"
    assert [(t["uid"], t["whitelist"], t["valid"]) for t in listed.json()] == [(uid, "ALWAYS", True)]


async def test_a_put_replaces_the_token_and_an_unknown_one_is_2004(emsp: Emsp) -> None:
    uid = _new_uid()
    await emsp.push(uid, whitelist="ALWAYS")
    replaced = await emsp.push(uid, whitelist="NEVER", issuer="Other issuer")
    assert (await emsp.get(replaced)).json()["data"]["whitelist"] == "NEVER"
    missing = await emsp.get(emsp.peer.token(_new_uid()))
    assert _ocpi(missing) == (404, 2004)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"issuer": None}, "a required field left out"),
        ({"uid": "X" * 37}, "a uid over CiString(36)"),
        ({"whitelist": "SOMETIMES"}, "no WhitelistType"),
        ({"type": "CARD"}, "no TokenType"),
        ({"country_code": "NLD"}, "a three-letter country code"),
        ({"visual_number": "9" * 65}, "visual_number over string(64)"),
        ({"last_updated": "yesterday"}, "no DateTime"),
        ({"energy_contract": {"contract_id": "C"}}, "an energy contract without supplier_name"),
    ],
)
async def test_a_malformed_token_is_refused_with_2001(emsp: Emsp, change: dict[str, Any], why: str) -> None:
    uid = _new_uid()
    token = emsp.peer.token(uid)
    body = {**token, **change}
    body = {name: value for name, value in body.items() if value is not None}
    url = f"{emsp.tokens_url}/{token['country_code']}/{token['party_id']}/{uid}"
    response = await emsp.peer.call_csms(
        "PUT", url, token=emsp.peer.csms_token, body=body, routing=emsp.peer.routing_to_csms()
    )
    assert _ocpi(response) == (200, 2001), why
    assert _ocpi(await emsp.get(token)) == (404, 2004), "nothing was stored"


async def test_a_token_not_matching_its_url_or_not_json_is_refused(emsp: Emsp) -> None:
    uid = _new_uid()
    token = emsp.peer.token(uid)
    base = f"{emsp.tokens_url}/{token['country_code']}/{token['party_id']}"
    peer, routing = emsp.peer, emsp.peer.routing_to_csms()
    other_uid = await peer.call_csms("PUT", f"{base}/{_new_uid()}", token=peer.csms_token, body=token, routing=routing)
    other_type = await peer.call_csms(
        "PUT", f"{base}/{uid}?type=APP_USER", token=peer.csms_token, body=token, routing=routing
    )
    assert _ocpi(other_uid) == _ocpi(other_type) == (200, 2001)
    async with httpx.AsyncClient(timeout=30) as client:
        not_json = await client.put(
            f"{base}/{uid}",
            content=b"{not json",
            headers={
                "Authorization": "Token " + base64.b64encode((peer.csms_token or "").encode()).decode(),
                "Content-Type": "application/json",
                **routing,
            },
        )
    assert _ocpi(not_json) == (400, 2001)


async def test_a_patch_needs_last_updated_and_cannot_rename_the_token(emsp: Emsp) -> None:
    token = await emsp.push(_new_uid())
    assert _ocpi(await emsp.patch(token, {"valid": False})) == (200, 2001)
    assert _ocpi(await emsp.patch(token, {"uid": "OTHER", "last_updated": "2026-02-01T10:00:00Z"})) == (200, 2001)
    assert _ocpi(await emsp.patch(token, {"valid": None, "last_updated": "2026-02-01T10:00:00Z"})) == (200, 2001)
    assert (await emsp.get(token)).json()["data"]["valid"] is True
    unknown = emsp.peer.token(_new_uid())
    assert _ocpi(await emsp.patch(unknown, {"valid": False, "last_updated": "2026-02-01T10:00:00Z"})) == (404, 2004)


async def test_another_party_cannot_put_or_read_the_first_partys_tokens(emsps: StartPeer) -> None:
    first, second = await emsps(), await emsps()
    token = await first.push(_new_uid())
    url = f"{second.tokens_url}/{token['country_code']}/{token['party_id']}/{token['uid']}"
    as_itself = second.peer.routing_to_csms()
    read = await second.peer.call_csms("GET", url, token=second.peer.csms_token, routing=as_itself)
    written = await second.peer.call_csms(
        "PUT", url, token=second.peer.csms_token, body={**token, "valid": False}, routing=as_itself
    )
    assert _ocpi(read) == _ocpi(written) == (403, 2000)
    posing = second.peer.routing_to_csms(sender=(first.peer.country_code, first.peer.party_id))
    impostor = await second.peer.call_csms("GET", url, token=second.peer.csms_token, routing=posing)
    assert _ocpi(impostor) == (200, 2001)
    assert (await first.get(token)).json()["data"]["valid"] is True


# -- authorizing at the charger ----------------------------------------------------------------------------------


async def test_an_always_whitelisted_rfid_is_accepted_at_a_16_charger_without_asking_the_emsp(
    emsp: Emsp, charger: SimulatedCharger, csms: RunningServer
) -> None:
    uid = _new_uid()
    token = await emsp.push(uid, whitelist="ALWAYS", group_id="FLEET-7")
    answer = await charger.authorize(uid.lower())  # the reader's case does not matter: uid is a CiString
    assert answer.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET-7"}
    started = await charger.start_transaction(1, uid, meter_start=1000)
    assert started.id_tag_info["status"] == "Accepted"
    assert emsp.peer.authorizations == []
    record = await _roaming_record(csms, started.transaction_id)
    assert record is not None
    assert (record.country_code, record.party_id, record.uid, record.token_type, record.contract_id) == (
        emsp.peer.country_code,
        emsp.peer.party_id,
        uid,
        "RFID",
        token["contract_id"],
    )
    assert (record.auth_method, record.authorization_reference) == ("WHITELIST", None)


async def test_an_unknown_tag_stays_invalid(emsp: Emsp, charger: SimulatedCharger) -> None:
    await emsp.push(_new_uid())
    assert await _authorized(charger, _new_uid()) == "Invalid"


async def test_an_allowed_token_is_authorized_in_real_time_at_the_charger_s_location(
    emsp: Emsp, charger: SimulatedCharger, csms: RunningServer, admin: httpx.AsyncClient
) -> None:
    place = {"name": "Depot", "address": "Stationsplein 1", "city": "Amsterdam", "country": "NLD"}
    place |= {"latitude": 52.3789, "longitude": 4.9003, "time_zone": "Europe/Amsterdam"}
    response = await admin.post("/api/admin/ocpi/locations", json={**place, "charge_point_ids": [charger.id]})
    assert response.status_code == 201, response.text
    uid = _new_uid()
    await emsp.push(uid, whitelist="ALLOWED")
    assert await _authorized(charger, uid) == "Accepted"
    [asked] = emsp.peer.authorizations
    assert asked.path.endswith(f"/tokens/{uid}/authorize")
    location_id = str(response.json()["id"])
    assert asked.body == {"location_id": location_id}  # an Authorize names no connector
    started = await charger.start_transaction(1, uid)
    assert started.id_tag_info["status"] == "Accepted"
    assert len(emsp.peer.authorizations) == 1, "the StartTransaction right after used the Authorize's answer"
    record = await _roaming_record(csms, started.transaction_id)
    assert record is not None
    # A start without an Authorize before it names its EVSE too.
    other = _new_uid()
    await emsp.push(other, whitelist="ALLOWED")
    assert (await charger.start_transaction(2, other)).id_tag_info["status"] == "Accepted"
    assert emsp.peer.authorizations[-1].body == {"location_id": location_id, "evse_uids": [f"{charger.id}-2"]}
    assert (record.auth_method, record.authorization_reference) == ("AUTH_REQUEST", f"AUTH-{uid[-8:]}")


@pytest.mark.parametrize(
    ("allowed", "status"),
    [("BLOCKED", "Blocked"), ("EXPIRED", "Expired"), ("NO_CREDIT", "Invalid"), ("UNKNOWN", "Invalid")],
)
async def test_the_emsps_refusal_reaches_the_charger(
    emsp: Emsp, charger: SimulatedCharger, allowed: str, status: str
) -> None:
    uid = _new_uid()
    await emsp.push(uid, whitelist="NEVER")
    emsp.peer.authorize_answers[uid] = allowed
    assert await _authorized(charger, uid) == status
    assert len(emsp.peer.authorizations) == 1


@pytest.mark.parametrize(
    ("whitelist", "valid", "status"),
    [
        ("ALLOWED_OFFLINE", True, "Accepted"),
        ("ALLOWED_OFFLINE", False, "Accepted"),
        ("ALLOWED", True, "Accepted"),
        ("ALLOWED", False, "Blocked"),
        ("NEVER", True, "Invalid"),
    ],
)
async def test_an_emsp_too_slow_to_answer_leaves_the_whitelist_to_decide(
    emsp: Emsp, charger: SimulatedCharger, whitelist: str, valid: bool, status: str
) -> None:
    uid = _new_uid()
    await emsp.push(uid, whitelist=whitelist, valid=valid)
    emsp.peer.authorize_delay = SLOW
    assert await _authorized(charger, uid) == status  # answered after csms's deadline, not the eMSP's delay
    assert len(emsp.peer.authorizations) == 1


async def test_the_last_answer_stands_while_the_emsp_cannot_answer(database: str, emsp: Emsp) -> None:
    # A node of the same database that asks every time: its outage window still holds the last answer.
    settings = settings_for(database, **OWN, ocpi_authorize_timeout=DEADLINE, ocpi_authorize_reuse=0)
    handle, task, node = await start_server(settings)
    try:
        uid = _new_uid()
        await emsp.push(uid, whitelist="NEVER")
        emsp.peer.authorize_answers[uid] = "ALLOWED"
        async with connect_charger(node.ws_url, await node.add_charger(), CHARGER_PASSWORD) as charger:
            await charger.boot()
            assert await _authorized(charger, uid) == "Accepted"
            emsp.peer.authorize_delay = SLOW
            assert await _authorized(charger, uid) == "Accepted"  # NEVER, without that answer: Invalid
    finally:
        await stop_server(handle, task)
    assert len(emsp.peer.authorizations) == 2


async def test_a_token_pushed_through_one_node_opens_a_charger_on_another(database: str, emsp: Emsp) -> None:
    # Two nodes of one database with no bus between them: the other node hears of the token from the tokens'
    # change counter, having answered (and kept) "no such token" before.
    handle, task, node = await start_server(settings_for(database, **OWN))
    try:
        uid = _new_uid()
        async with connect_charger(node.ws_url, await node.add_charger(), CHARGER_PASSWORD) as charger:
            await charger.boot()
            assert await _authorized(charger, uid) == "Invalid"
            await emsp.push(uid, whitelist="ALWAYS")

            async def accepted() -> bool:
                return await _authorized(charger, uid) == "Accepted"

            await wait_for_true(accepted)
    finally:
        await stop_server(handle, task)


async def test_a_token_patched_invalid_is_refused_at_the_charger_next_time(
    emsp: Emsp, charger: SimulatedCharger
) -> None:
    uid = _new_uid()
    token = await emsp.push(uid, whitelist="ALWAYS")
    assert await _authorized(charger, uid) == "Accepted"
    patched = await emsp.patch(token, {"valid": False, "last_updated": "2026-02-01T10:00:00Z"})
    assert _ocpi(patched) == (200, 1000)
    assert await _authorized(charger, uid) == "Blocked"
    assert (await emsp.get(token)).json()["data"]["valid"] is False


async def test_a_token_stored_invalid_is_still_asked_in_real_time_when_its_whitelist_says_so(
    emsp: Emsp, charger: SimulatedCharger
) -> None:
    # §12.4.5: validity has no influence on the whitelist; the token's state may have changed since.
    uid = _new_uid()
    await emsp.push(uid, whitelist="NEVER", valid=False)
    assert await _authorized(charger, uid) == "Accepted"
    assert len(emsp.peer.authorizations) == 1


async def test_a_suspended_partys_tokens_open_nothing(
    emsp: Emsp, charger: SimulatedCharger, admin: httpx.AsyncClient
) -> None:
    uid = _new_uid()
    await emsp.push(uid, whitelist="ALWAYS")
    assert await _authorized(charger, uid) == "Accepted"
    parties = (await admin.get("/api/admin/ocpi/parties")).json()
    party = next(p for p in parties if p["party_id"] == emsp.peer.party_id)
    assert (await admin.post(f"/api/admin/ocpi/parties/{party['id']}/suspend")).status_code == 200
    assert await _authorized(charger, uid) == "Invalid"


async def test_a_201_station_is_authorized_and_starts_with_a_roaming_token(emsp: Emsp, csms: RunningServer) -> None:
    always, realtime = _new_uid(), _new_uid()
    await emsp.push(always, whitelist="ALWAYS")
    await emsp.push(realtime, whitelist="ALLOWED")
    emsp.peer.authorize_answers[realtime] = "BLOCKED"
    station_id = await csms.add_charger()
    async with connect_station(csms.ws_url, station_id, CHARGER_PASSWORD) as station:
        assert (await station.boot()).status == "Accepted"
        assert (await station.authorize(always)).id_token_info["status"] == "Accepted"
        assert (await station.authorize(realtime)).id_token_info["status"] == "Blocked"
        assert (await station.authorize(always, kind="KeyCode")).id_token_info["status"] == "Invalid"
        transaction = station.new_transaction(1, {"idToken": always, "type": "ISO14443"})
        started = await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0)
        assert started.id_token_info["status"] == "Accepted"
    assert [seen.body for seen in emsp.peer.authorizations] == [None]  # on no location: no place to name
