"""Restarts: nothing a charger queued while csms was away is lost, duplicated or misordered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import websockets

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, bearer, settings_for, signup, start_server, stop_server


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_restart_mid_transaction_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}")
    started_at = datetime.now(UTC) - timedelta(minutes=30)
    handle, task, node = await start_server(settings)
    charge_point_id = await node.add_charger()
    async with httpx.AsyncClient(base_url=node.http_url) as app:
        tokens = await signup(app)
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        first = await charger.start_transaction(1, tokens["idTag"], meter_start=1000, timestamp=iso(started_at))
        await charger.meter_values(1, first.transaction_id, 2000, timestamp=iso(started_at + timedelta(minutes=5)))
        await stop_server(handle, task)

    # While csms was down the charger queued these; it sends them, oldest first, once it is back.
    handle, task, node = await start_server(settings)
    try:
        async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            again = await charger.start_transaction(1, tokens["idTag"], meter_start=1000, timestamp=iso(started_at))
            await charger.meter_values(1, first.transaction_id, 3000, timestamp=iso(started_at + timedelta(minutes=10)))
            await charger.meter_values(1, first.transaction_id, 4000, timestamp=iso(started_at + timedelta(minutes=15)))
            await charger.stop_transaction(
                first.transaction_id, 4500, timestamp=iso(started_at + timedelta(minutes=20))
            )
            second = await charger.start_transaction(2, tokens["idTag"], meter_start=0)
        async with httpx.AsyncClient(base_url=node.http_url) as app:
            relogin = await app.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})
            records = (await app.get("/api/transactions", headers=bearer(relogin.json()))).json()
            detail = (await app.get(f"/api/transactions/{first.transaction_id}", headers=bearer(relogin.json()))).json()
    finally:
        await stop_server(handle, task)
    assert again.transaction_id == first.transaction_id
    assert second.transaction_id > first.transaction_id  # ids are never reused across restarts
    assert sorted(r["id"] for r in records) == [first.transaction_id, second.transaction_id]
    energy = [v["value"] for v in detail["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert energy == ["2000", "3000", "4000"]
    assert (detail["energy_wh"], detail["duration_seconds"]) == (3500, 20 * 60)


async def test_shutdown_closes_charger_sockets_with_going_away(tmp_path: Path) -> None:
    handle, task, node = await start_server(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    charge_point_id = await node.add_charger()
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.heartbeat()
        stopping = asyncio.create_task(stop_server(handle, task))
        await asyncio.wait_for(charger._connection.wait_closed(), 10)
        await stopping
    assert charger._connection.close_code in (1001, 1012)
    assert isinstance(charger._connection.close_reason, str)
    assert websockets.State.CLOSED == charger._connection.state
