"""Charger connection: Basic auth before the upgrade, the ocpp1.6 subprotocol, replaced sockets."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from csms.db.models import Charger
from csms.simulator.charger import basic_auth_header, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, new_charger_id
from tests.support.backends import sqlite_only_server
from tests.support.waiting import DEADLINE_SECONDS

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only


async def refused_status(
    server: RunningServer, charge_point_id: str, headers: dict[str, str], *, path: str | None = None
) -> int:
    """The HTTP status refusing the upgrade of /ocpp/{charge_point_id}, or of `path` when given."""
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{server.ws_url}{path or f'/ocpp/{charge_point_id}'}",
            subprotocols=["ocpp1.6"],
            additional_headers=headers,  # type: ignore[list-item]
        ):
            pass
    return refused.value.response.status_code


async def test_unknown_charger_is_refused_with_404_before_upgrade(server: RunningServer) -> None:
    charge_point_id = new_charger_id()
    headers = {"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)}
    assert await refused_status(server, charge_point_id, headers) == 404


async def test_wrong_charger_password_is_refused_with_401_before_upgrade(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    headers = {"Authorization": basic_auth_header(charge_point_id, "not-the-password-at-all")}
    assert await refused_status(server, charge_point_id, headers) == 401


async def test_missing_credentials_are_refused_with_401(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    assert await refused_status(server, charge_point_id, {}) == 401


async def test_username_other_than_the_path_id_is_refused_with_401(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    other_id = await server.add_charger()
    headers = {"Authorization": basic_auth_header(other_id, CHARGER_PASSWORD)}
    assert await refused_status(server, charge_point_id, headers) == 401


async def test_garbled_basic_header_is_refused_with_401(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    assert await refused_status(server, charge_point_id, {"Authorization": "Basic %%%not-base64"}) == 401


async def test_charger_without_ocpp16_subprotocol_is_closed_after_handshake(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    headers = {"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)}
    async with websockets.connect(f"{server.ws_url}/ocpp/{charge_point_id}", additional_headers=headers) as ws:
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1002


async def wait_for_disconnect(server: RunningServer, charge_point_id: str) -> Charger:
    """The charger's row once the node has recorded its disconnect (written in the background)."""
    async with asyncio.timeout(DEADLINE_SECONDS):
        while True:
            async with server.session() as session:
                stored = await session.get(Charger, charge_point_id)
            assert stored is not None
            if not stored.is_connected:
                return stored
            await asyncio.sleep(0.05)


async def test_accepted_charger_negotiates_ocpp16_and_shows_connected(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert charger._connection.subprotocol == "ocpp1.6"
        await charger.heartbeat()
        async with server.session() as session:
            stored = await session.get(Charger, charge_point_id)
            assert stored is not None and stored.is_connected and stored.disconnected_at is None
            connected_at = stored.connected_at
    stored = await wait_for_disconnect(server, charge_point_id)
    assert stored.disconnected_at is not None
    # The disconnect keeps when it connected: the admin view shows both.
    assert connected_at is not None and stored.connected_at == connected_at


async def test_charger_password_is_stored_as_a_salted_argon2id_hash(server: RunningServer) -> None:
    first = await server.add_charger()
    second = await server.add_charger()
    async with server.session() as session:
        hashes = [(await session.get(Charger, cp_id)).password_hash for cp_id in (first, second)]  # type: ignore[union-attr]
    assert all(h.startswith("$argon2id$") and CHARGER_PASSWORD not in h for h in hashes)
    assert hashes[0] != hashes[1]


async def test_reconnect_with_valid_credentials_replaces_and_closes_the_old_socket(
    server: RunningServer,
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as old:
        async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as new:
            await asyncio.wait_for(old._connection.wait_closed(), 5)
            assert old._connection.close_code == 4000
            assert (await new.heartbeat()).current_time
            assert server.app_runtime.registry.get(charge_point_id) is not None
        await wait_for_disconnect(server, charge_point_id)


async def test_chargers_reconnecting_while_their_old_sockets_close_end_up_offline_and_forgotten(
    server: RunningServer,
) -> None:
    """A new socket closes the charger's previous one; when that one is already gone, closing it fails.
    That failure once left the new session registered for ever and the charger shown online."""
    charge_point_ids = [await server.add_charger() for _ in range(10)]

    async def flap(charge_point_id: str) -> None:
        headers = {"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)}
        for _ in range(10):
            async with websockets.connect(
                f"{server.ws_url}/ocpp/{charge_point_id}", subprotocols=["ocpp1.6"], additional_headers=headers
            ) as websocket:
                await websocket.send(
                    '[2, "boot", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}]'
                )
            # leaving the block closes the socket at once, often before csms has answered

    await asyncio.gather(*(flap(charge_point_id) for charge_point_id in charge_point_ids))
    for charge_point_id in charge_point_ids:
        await wait_for_disconnect(server, charge_point_id)
    assert [cp for cp in charge_point_ids if server.app_runtime.registry.get(cp) is not None] == []


@pytest.mark.parametrize("path", ["/ocpp/", "/ocpp/CP1/extra", "/ocpp", "/chargers/CP1"])
async def test_a_websocket_to_any_other_path_is_refused_without_touching_a_charger(
    server: RunningServer, path: str
) -> None:
    charge_point_id = await server.add_charger()
    headers = {"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)}
    assert await refused_status(server, charge_point_id, headers, path=path) in (403, 404)
    assert server.app_runtime.registry.get(charge_point_id) is None
