"""idTags are kept in memory per node (services/tag_directory.py): every change must reach the next answer.

Each test asks a charger's question first, so the tag is remembered, then changes it the way operators
and users do, and asks again on the same connection.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


@pytest.fixture
async def charger(server: RunningServer) -> SimulatedCharger:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as connected:
        yield connected


def card() -> str:
    return "DIR" + datetime.now(UTC).strftime("%H%M%S%f")


async def status_of(charger: SimulatedCharger, id_tag: str) -> str:
    status: str = (await charger.authorize(id_tag)).id_tag_info["status"]
    return status


async def test_a_tag_unknown_a_moment_ago_is_accepted_once_registered(
    charger: SimulatedCharger, http: httpx.AsyncClient
) -> None:
    user = bearer(await signup(http))
    tag = card()
    assert await status_of(charger, tag) == "Invalid"
    assert (await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=user)).status_code == 201
    assert await status_of(charger, tag) == "Accepted"
    assert (await http.delete(f"/api/me/id_tags/{tag}", headers=user)).status_code == 204
    assert await status_of(charger, tag) == "Invalid"


async def test_operator_blocking_and_unblocking_a_tag_bites_at_the_next_authorize(
    charger: SimulatedCharger, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = card()
    assert (await http.post("/api/admin/id_tags", json={"id_tag": tag}, headers=admin)).status_code == 201
    assert await status_of(charger, tag) == "Accepted"
    await http.patch(f"/api/admin/id_tags/{tag}", json={"status": "Blocked"}, headers=admin)
    assert await status_of(charger, tag) == "Blocked"
    await http.patch(f"/api/admin/id_tags/{tag}", json={"status": "Accepted"}, headers=admin)
    assert await status_of(charger, tag) == "Accepted"


async def test_blocking_an_account_blocks_its_remembered_tags(
    charger: SimulatedCharger, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    me = (await http.get("/api/me", headers=bearer(tokens))).json()
    assert await status_of(charger, tokens["idTag"]) == "Accepted"
    await http.patch(f"/api/admin/users/{me['id']}", json={"is_active": False}, headers=admin)
    assert await status_of(charger, tokens["idTag"]) == "Blocked"
    await http.patch(f"/api/admin/users/{me['id']}", json={"is_active": True}, headers=admin)
    assert await status_of(charger, tokens["idTag"]) == "Accepted"


async def test_a_start_after_the_tags_vehicle_was_deleted_is_recorded_without_it(
    charger: SimulatedCharger, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    user = bearer(tokens)
    vehicle = (await http.post("/api/me/vehicles", json={"name": "Old car"}, headers=user)).json()
    await http.patch(f"/api/me/id_tags/{tokens['idTag']}", json={"vehicle_id": vehicle["id"]}, headers=user)
    assert await status_of(charger, tokens["idTag"]) == "Accepted"  # remembered with its vehicle
    assert (await http.delete(f"/api/me/vehicles/{vehicle['id']}", headers=user)).status_code == 204
    started = await charger.start_transaction(1, tokens["idTag"])
    assert started.id_tag_info["status"] == "Accepted"
    record = (await http.get(f"/api/transactions/{started.transaction_id}", headers=user)).json()
    assert record["vehicle_id"] is None


async def test_a_tag_charging_elsewhere_is_concurrent_until_that_transaction_stops(
    server: RunningServer, charger: SimulatedCharger, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    started = await charger.start_transaction(1, tokens["idTag"])
    async with connect_charger(server.ws_url, await server.add_charger(), CHARGER_PASSWORD) as other:
        assert await status_of(other, tokens["idTag"]) == "ConcurrentTx"
        stopped = await charger.stop_transaction(started.transaction_id, 1000, id_tag=tokens["idTag"])
        assert stopped.id_tag_info["status"] == "Accepted"
        assert await status_of(other, tokens["idTag"]) == "Accepted"
