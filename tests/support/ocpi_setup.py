"""What the tests of csms's OCPI modules share: csms's OCPI settings, eMSP peers that fail the test on any rule
csms broke, and a peer registered with csms as an eMSP does it."""

from __future__ import annotations

import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, RunningServer, create_account_with_role, fresh_database, login_as
from tests.support.ocpi_peer import EmspPeer, start_peer, stop_peer

OWN = {
    "ocpi_country_code": "NL",
    "ocpi_party_id": "CSM",
    "ocpi_business_name": "csms test CPO",
    "ocpi_allow_private_peers": True,  # the peers listen on 127.0.0.1
    "ocpi_push_retry_base": 0.3,
    "ocpi_push_poll_interval": 0.2,
    "ocpi_page_limit": 2,
}
StartPeer = Callable[..., Awaitable[EmspPeer]]


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """For a module that imports it: a database of its own on each storage backend, for its OCPI node."""
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def peers() -> AsyncIterator[StartPeer]:
    """For a module that imports it: `running_peers` as a fixture."""
    async for start in running_peers():
        yield start


async def running_peers() -> AsyncIterator[StartPeer]:
    """For a fixture: starts eMSP peers; afterwards every OCPI rule csms broke fails the test."""
    running = []

    async def start(**options: Any) -> EmspPeer:
        peer = EmspPeer(country_code="DE", party_id=_new_party_id(), **options)
        running.append(await start_peer(peer))
        return peer

    yield start
    for each in running:
        await stop_peer(each)
    violations = [violation for each in running for violation in each.peer.violations]
    assert violations == [], "csms broke OCPI 2.2.1:\n" + "\n".join(violations)


def _new_party_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(3))


async def register(admin: httpx.AsyncClient, peer: EmspPeer) -> dict[str, str]:
    """The peer registers with csms (token A from an admin), and learns csms's endpoints by identifier."""
    response = await admin.post(
        "/api/admin/ocpi/parties", json={"country_code": peer.country_code, "party_id": peer.party_id}
    )
    assert response.status_code == 201, response.text
    party = response.json()
    answer = await peer.register_with(party["csms_versions_url"], party["token_a"])
    assert answer.json()["status_code"] == 1000, answer.text
    assert peer.csms_token is not None
    return await peer.discover_csms(party["csms_versions_url"], peer.csms_token)


@asynccontextmanager
async def admin_client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `server` logged in as a new admin, as an operator registering parties is."""
    username, _ = await create_account_with_role(server, "admin")
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {(await login_as(client, username))['access_token']}"
        yield client
