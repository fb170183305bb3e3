"""A single node's record of who is connected survives its own crash (SQLite, `csms serve` processes)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import websockets

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, USER_PASSWORD, bearer, login_as
from tests.support.processes import csms_serve_process, run_csms
from tests.support.waiting import poll

LEASE = 2.0


async def test_a_charger_of_a_node_killed_with_sigkill_is_offline_once_the_node_restarts(tmp_path: Path) -> None:
    assert run_csms(tmp_path, "add-charger", "CP-KILLED", "--password", CHARGER_PASSWORD).returncode == 0
    created = run_csms(tmp_path, "create-user", "--username", "staff", "--password", USER_PASSWORD, "--role", "admin")
    assert created.returncode == 0, created.stderr

    async def connected(base_url: str) -> bool:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as api:
            headers = bearer(await login_as(api, "staff"))
            response = await api.get("/api/admin/chargers/CP-KILLED", headers=headers)
            assert response.status_code == 200, response.text
            return bool(response.json()["is_connected"])

    async with csms_serve_process(tmp_path, presence_lease=str(LEASE)) as first:
        async with connect_charger(first.ws_url, "CP-KILLED", CHARGER_PASSWORD) as charger:
            await charger.heartbeat()
            assert await connected(first.base_url)
            await first.kill()
            with contextlib.suppress(websockets.ConnectionClosed):
                await charger.websocket.wait_closed()
    async with csms_serve_process(tmp_path, presence_lease=str(LEASE)) as restarted:
        # A restarted node sweeps once the database answered it for a whole lease: 2 leases at most.
        assert (
            await poll(lambda: connected(restarted.base_url), lambda value: not value, within=2 * LEASE + 15) is False
        )
