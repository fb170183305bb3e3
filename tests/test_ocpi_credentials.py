"""OCPI 2.2.1 versions and credentials between csms and an eMSP peer of its own (tests/support/ocpi_peer.py), both
ways: the peer registers with csms's token A, csms registers with the peer's; updates, unregistration, the errors,
several parties at once. The peer fails the test on any request or answer of csms that breaks OCPI 2.2.1."""

from __future__ import annotations

import base64
import itertools
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.ocpi.client import OcpiClient, PeerNotAllowed
from csms.ocpi.routing import PartyRef
from tests.conftest import (
    BACKENDS,
    RunningServer,
    fresh_database,
    node_with,
    settings_for,
    start_server,
    stop_server,
)
from tests.support.ocpi_peer import EmspPeer, start_peer, stop_peer
from tests.support.ocpi_setup import admin_client
from tests.support.processes import free_port, run_csms

OWN = {
    "ocpi_country_code": "DE",
    "ocpi_party_id": "CSM",
    "ocpi_business_name": "csms test CPO",
    "ocpi_allow_private_peers": True,  # the peers listen on 127.0.0.1
}
StartPeer = Callable[..., Awaitable[EmspPeer]]


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
async def csms(database: str) -> AsyncIterator[RunningServer]:
    """A csms node with an OCPI identity, on each storage backend."""
    handle, task, running = await start_server(settings_for(database, **OWN))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(csms: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(csms) as client:
        yield client


@pytest.fixture
async def peers() -> AsyncIterator[StartPeer]:
    """Starts eMSP peers, each on its own port; afterwards, every OCPI rule csms broke fails the test."""
    running = []

    async def start(**options: Any) -> EmspPeer:
        peer = EmspPeer(country_code="NL", party_id=_new_party_id(), **options)
        running.append(await start_peer(peer))
        return peer

    yield start
    for each in running:
        await stop_peer(each)
    violations = [violation for each in running for violation in each.peer.violations]
    assert violations == [], "csms broke OCPI 2.2.1:\n" + "\n".join(violations)


@pytest.fixture
async def peer(peers: StartPeer) -> EmspPeer:
    return await peers()


_PARTY_IDS = iter(itertools.product(string.ascii_uppercase + string.digits, repeat=3))


def _new_party_id() -> str:
    """A party id no other test of the module took: the module's tests share one database, where a random
    3-character id collided once in a few hundred runs."""
    return "".join(next(_PARTY_IDS))


async def _add_party(admin: httpx.AsyncClient, peer: EmspPeer, **body: Any) -> dict[str, Any]:
    response = await admin.post(
        "/api/admin/ocpi/parties", json={"country_code": peer.country_code, "party_id": peer.party_id, **body}
    )
    assert response.status_code == 201, response.text
    party: dict[str, Any] = response.json()
    return party


async def _registered(admin: httpx.AsyncClient, peer: EmspPeer) -> dict[str, Any]:
    """A party the peer registered with csms (csms the receiver)."""
    party = await _add_party(admin, peer)
    answer = await peer.register_with(party["csms_versions_url"], party["token_a"])
    assert answer.json()["status_code"] == 1000, answer.text
    return party


async def _party(admin: httpx.AsyncClient, party_key: int) -> dict[str, Any]:
    response = await admin.get(f"/api/admin/ocpi/parties/{party_key}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ocpi(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["status_code"]


# -- csms as the receiver of credentials -----------------------------------------------------------------------


async def test_an_emsp_registers_with_token_a_and_calls_with_token_c_after(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    party = await _add_party(admin, peer)
    assert party["state"] == "PENDING" and party["token_a"]

    answer = (await peer.register_with(party["csms_versions_url"], party["token_a"])).json()

    assert answer["data"]["roles"] == [
        {"role": "CPO", "business_details": {"name": "csms test CPO"}, "party_id": "CSM", "country_code": "DE"}
    ]
    assert answer["data"]["url"] == party["csms_versions_url"]
    token_b = next(iter(peer.accepted_tokens))
    assert [(seen.path, seen.token) for seen in peer.seen] == [("/emsp/versions", token_b), ("/emsp/2.2.1", token_b)]
    registered = await _party(admin, party["id"])
    assert registered["state"] == "REGISTERED" and registered["version"] == "2.2.1"
    assert registered["business_name"] == peer.name
    assert {"identifier": "credentials", "role": "SENDER", "url": f"{peer.base_url}/emsp/2.2.1/credentials"} in (
        registered["endpoints"]
    )
    versions = party["csms_versions_url"]
    assert _ocpi(await peer.call_csms("GET", versions, token=peer.csms_token)) == (200, 1000)
    assert _ocpi(await peer.call_csms("GET", versions, token=party["token_a"])) == (401, 2000)


async def test_token_a_opens_versions_and_credentials_only_until_registered(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    party = await _add_party(admin, peer)
    endpoints = await peer.discover_csms(party["csms_versions_url"], party["token_a"])
    assert {"credentials", "locations", "tariffs", "tokens"} <= set(endpoints)
    credentials = endpoints["credentials"]
    body = peer.credentials(peer.issue_token())

    # §7.2.3 and §7.2.4: PUT and DELETE before registration are answered 405.
    assert _ocpi(await peer.call_csms("PUT", credentials, token=party["token_a"], body=body)) == (405, 2000)
    assert _ocpi(await peer.call_csms("DELETE", credentials, token=party["token_a"])) == (405, 2000)
    shown = await peer.call_csms("GET", credentials, token=party["token_a"])
    assert shown.json()["data"]["token"] == party["token_a"]

    await peer.register_with(party["csms_versions_url"], party["token_a"])
    # §7.2.2: a second POST is answered 405; token A opens nothing any more.
    assert _ocpi(await peer.call_csms("POST", credentials, token=peer.csms_token, body=body)) == (405, 2000)
    assert _ocpi(await peer.call_csms("POST", credentials, token=party["token_a"], body=body)) == (401, 2000)


async def test_an_emsp_updates_its_credentials_and_its_old_token_c_stops_working(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    party = await _registered(admin, peer)
    old_token_c, seen_before = peer.csms_token, len(peer.seen)

    answer = await peer.update_with(party["csms_versions_url"])

    assert answer.json()["status_code"] == 1000 and peer.csms_token != old_token_c
    (new_token_b,) = peer.accepted_tokens
    refetched = peer.seen[seen_before:]
    assert [(seen.path, seen.token) for seen in refetched] == [
        ("/emsp/versions", new_token_b),
        ("/emsp/2.2.1", new_token_b),
    ]
    versions = party["csms_versions_url"]
    assert _ocpi(await peer.call_csms("GET", versions, token=old_token_c)) == (401, 2000)
    assert _ocpi(await peer.call_csms("GET", versions, token=peer.csms_token)) == (200, 1000)


async def test_an_emsp_unregisters_and_may_be_added_again(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _registered(admin, peer)
    credentials = f"{party['csms_versions_url'].removesuffix('/versions')}/2.2.1/credentials"

    assert _ocpi(await peer.call_csms("DELETE", credentials, token=peer.csms_token)) == (200, 1000)

    assert _ocpi(await peer.call_csms("GET", credentials, token=peer.csms_token)) == (401, 2000)
    assert (await _party(admin, party["id"]))["state"] == "UNREGISTERED"
    again = await _add_party(admin, peer)
    assert again["id"] == party["id"] and again["state"] == "PENDING"
    answer = await peer.register_with(again["csms_versions_url"], again["token_a"])
    assert answer.json()["status_code"] == 1000


async def test_deleting_a_registered_party_tells_it_first(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _registered(admin, peer)
    token_b, token_c = next(iter(peer.accepted_tokens)), peer.csms_token

    response = await admin.delete(f"/api/admin/ocpi/parties/{party['id']}")

    assert response.json() == {"told_party": True, "error": None}
    assert (peer.seen[-1].method, peer.seen[-1].path, peer.seen[-1].token) == (
        "DELETE",
        "/emsp/2.2.1/credentials",
        token_b,
    )
    assert not peer.registered
    assert (await admin.get(f"/api/admin/ocpi/parties/{party['id']}")).status_code == 404
    assert _ocpi(await peer.call_csms("GET", party["csms_versions_url"], token=token_c)) == (401, 2000)


# -- csms as the sender of credentials -------------------------------------------------------------------------


async def test_csms_registers_with_an_emsp_given_its_versions_url_and_token_a(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    peer_token_a = peer.issue_token()

    party = await _add_party(admin, peer, role="EMSP", versions_url=peer.versions_url, token=peer_token_a)

    assert party["state"] == "REGISTERED" and party["token_a"] is None
    assert [(seen.method, seen.path, seen.token) for seen in peer.seen] == [
        ("GET", "/emsp/versions", peer_token_a),
        ("GET", "/emsp/2.2.1", peer_token_a),
        ("POST", "/emsp/2.2.1/credentials", peer_token_a),
    ]
    offered = peer.seen[-1].body
    assert offered["url"] == party["csms_versions_url"] and offered["roles"][0]["role"] == "CPO"
    assert peer.registered and peer.csms_token == offered["token"]
    assert _ocpi(await peer.call_csms("GET", party["csms_versions_url"], token=peer.csms_token)) == (200, 1000)


async def test_csms_updates_its_credentials_with_an_emsp(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _add_party(admin, peer, versions_url=peer.versions_url, token=peer.issue_token())
    (token_c,) = peer.accepted_tokens
    old_token_b = peer.csms_token

    response = await admin.post(f"/api/admin/ocpi/parties/{party['id']}/update")

    assert response.status_code == 200, response.text
    assert (peer.seen[-1].method, peer.seen[-1].token) == ("PUT", token_c)
    assert peer.csms_token != old_token_b
    versions = party["csms_versions_url"]
    assert _ocpi(await peer.call_csms("GET", versions, token=old_token_b)) == (401, 2000)
    assert _ocpi(await peer.call_csms("GET", versions, token=peer.csms_token)) == (200, 1000)


async def test_an_emsp_without_2_2_1_is_not_registered_either_way(admin: httpx.AsyncClient, peers: StartPeer) -> None:
    old = await peers(offered_versions=["2.1.1"])
    party = await _add_party(admin, old)

    answer = await old.register_with(party["csms_versions_url"], party["token_a"])

    assert _ocpi(answer) == (200, 3002)
    assert (await _party(admin, party["id"]))["state"] == "PENDING"
    body = {"country_code": "NL", "party_id": _new_party_id(), "versions_url": old.versions_url}
    response = await admin.post("/api/admin/ocpi/parties", json=body | {"token": old.issue_token()})
    assert response.status_code == 502 and "OCPI 3002" in response.json()["detail"]
    (kept,) = [p for p in (await admin.get("/api/admin/ocpi/parties")).json() if p["versions_url"] == old.versions_url]
    assert kept["state"] == "PENDING" and "2.1.1" in kept["last_error"]


# -- refusals --------------------------------------------------------------------------------------------------


async def test_a_missing_or_unknown_token_is_refused_with_401(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    versions = (await _add_party(admin, peer))["csms_versions_url"]

    assert _ocpi(await peer.call_csms("GET", versions, token=None)) == (401, 2000)
    assert _ocpi(await peer.call_csms("GET", versions, token="no-such-token")) == (401, 2000)
    async with httpx.AsyncClient() as client:
        bearer = await client.get(versions, headers={"Authorization": "Bearer no-such-token"})
    assert _ocpi(bearer) == (401, 2000)


async def test_a_token_sent_without_base64_is_accepted_as_older_implementations_send_it(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    party = await _registered(admin, peer)
    async with httpx.AsyncClient() as client:
        response = await client.get(party["csms_versions_url"], headers={"Authorization": f"Token {peer.csms_token}"})
    assert _ocpi(response) == (200, 1000)


async def test_malformed_credentials_are_answered_2001_and_leave_token_a_working(
    admin: httpx.AsyncClient, peer: EmspPeer
) -> None:
    party = await _add_party(admin, peer)
    credentials = (await peer.discover_csms(party["csms_versions_url"], party["token_a"]))["credentials"]
    token_a = party["token_a"]
    missing_roles = {"token": "tok", "url": peer.versions_url, "roles": []}
    long_party_id = peer.credentials("tok") | {"roles": [{**peer.credentials("tok")["roles"][0], "party_id": "TOOL"}]}
    someone_else = peer.credentials("tok") | {"roles": [{**peer.credentials("tok")["roles"][0], "party_id": "OTH"}]}

    for body in (missing_roles, long_party_id, someone_else):
        assert _ocpi(await peer.call_csms("POST", credentials, token=token_a, body=body)) == (200, 2001), body
    async with httpx.AsyncClient() as client:
        headers = {"Authorization": "Token " + base64.b64encode(token_a.encode()).decode()}
        headers["Content-Type"] = "application/json"
        not_json = await client.post(credentials, content=b"{not json", headers=headers)
    assert _ocpi(not_json) == (400, 2001)
    assert peer.seen == []  # nothing was fetched for a refused body
    assert (await peer.register_with(party["csms_versions_url"], token_a)).json()["status_code"] == 1000


async def test_an_emsp_csms_cannot_reach_gets_3001(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _add_party(admin, peer)
    credentials = (await peer.discover_csms(party["csms_versions_url"], party["token_a"]))["credentials"]
    body = peer.credentials("tok") | {"url": f"http://127.0.0.1:{free_port()}/emsp/versions"}

    answer = await peer.call_csms("POST", credentials, token=party["token_a"], body=body)

    assert _ocpi(answer) == (200, 3001)


async def test_another_ocpi_version_or_path_is_answered_in_ocpi(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _registered(admin, peer)
    base = party["csms_versions_url"].removesuffix("/versions")

    assert _ocpi(await peer.call_csms("GET", f"{base}/2.1.1", token=peer.csms_token)) == (404, 3002)
    assert _ocpi(await peer.call_csms("GET", f"{base}/2.2.1/nothing", token=peer.csms_token)) == (404, 2000)
    assert _ocpi(await peer.call_csms("PATCH", f"{base}/2.2.1/credentials", token=peer.csms_token)) == (405, 2000)


async def test_a_suspended_party_is_refused_until_resumed(admin: httpx.AsyncClient, peer: EmspPeer) -> None:
    party = await _registered(admin, peer)
    versions = party["csms_versions_url"]

    suspended = await admin.post(f"/api/admin/ocpi/parties/{party['id']}/suspend")
    assert suspended.json()["state"] == "SUSPENDED"
    assert _ocpi(await peer.call_csms("GET", versions, token=peer.csms_token)) == (403, 2000)

    resumed = await admin.post(f"/api/admin/ocpi/parties/{party['id']}/resume")
    assert resumed.json()["state"] == "REGISTERED"
    assert _ocpi(await peer.call_csms("GET", versions, token=peer.csms_token)) == (200, 1000)


# -- several parties -------------------------------------------------------------------------------------------


async def test_two_parties_keep_their_own_tokens(admin: httpx.AsyncClient, peers: StartPeer) -> None:
    first, second = await peers(), await peers()
    first_party = await _registered(admin, first)
    await _add_party(admin, second, versions_url=second.versions_url, token=second.issue_token())
    credentials = f"{first_party['csms_versions_url'].removesuffix('/versions')}/2.2.1/credentials"

    assert first.csms_token != second.csms_token
    for each in (first, second):
        shown = (await each.call_csms("GET", credentials, token=each.csms_token)).json()["data"]
        assert shown["token"] == each.csms_token
    second_token = second.csms_token
    await first.update_with(first_party["csms_versions_url"])
    assert _ocpi(await second.call_csms("GET", credentials, token=second_token)) == (200, 1000)
    listed = {(p["party_id"], p["state"]) for p in (await admin.get("/api/admin/ocpi/parties")).json()}
    assert {(first.party_id, "REGISTERED"), (second.party_id, "REGISTERED")} <= listed


# -- the client for the modules to come ------------------------------------------------------------------------


async def test_requests_to_functional_modules_carry_the_routing_headers(peer: EmspPeer) -> None:
    token = peer.issue_token()
    client = OcpiClient(timeout=10, allow_private=lambda: True)
    try:
        data = await client.call(
            "GET",
            f"{peer.base_url}/emsp/2.2.1/tokens",
            token=token,
            routing=(PartyRef("DE", "CSM"), PartyRef(peer.country_code, peer.party_id)),
        )
    finally:
        await client.close()
    assert data == []
    headers = peer.seen[-1].headers
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == ("DE", "CSM")
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == (peer.country_code, peer.party_id)


async def test_csms_calls_no_private_address_unless_the_operator_allows_it(peer: EmspPeer) -> None:
    client = OcpiClient(timeout=10)
    try:
        with pytest.raises(PeerNotAllowed, match=r"127\.0\.0\.1, a loopback address.*CSMS_OCPI_ALLOW_PRIVATE_PEERS"):
            await client.call("GET", peer.versions_url, token=peer.issue_token())
    finally:
        await client.close()
    assert peer.seen == []


# -- the command line ------------------------------------------------------------------------------------------


async def test_a_party_added_on_the_command_line_registers_with_the_token_a_printed(
    tmp_path: Path, peers: StartPeer
) -> None:
    result = run_csms(tmp_path, "ocpi", "add-party", "--country-code", "nl", "--party-id", "cli", "--role", "EMSP")
    assert result.returncode == 0, result.stderr
    token_a = result.stdout.split("token A: ")[1].strip()
    assert "added OCPI party NL CLI (EMSP" in result.stdout
    peer = await peers()
    peer.party_id = "CLI"

    async with node_with(tmp_path, **OWN) as node:
        answer = await peer.register_with(f"{node.http_url}/ocpi/versions", token_a)

    assert answer.json()["status_code"] == 1000
