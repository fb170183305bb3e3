"""Budgets per session: a real OCPP client is told to stop (RemoteStopTransaction) when one is reached."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup


async def started_session(charger: SimulatedCharger, id_tag: str) -> int:
    await charger.boot()
    await charger.status(1, "Charging")
    return int((await charger.start_transaction(1, id_tag, meter_start=1_000)).transaction_id)


def remote_stops(charger: SimulatedCharger) -> list[int]:
    return [call.payload["transaction_id"] for call in charger.received if call.action == "RemoteStopTransaction"]


async def test_an_energy_budget_stops_the_session_once_when_reached(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    tokens = await signup(api)
    assert (await api.put("/api/me/budget", json={"max_energy_wh": 5_000}, headers=bearer(tokens))).status_code == 200
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await started_session(charger, tokens["idTag"])
        await charger.meter_values(1, transaction_id, 4_000)  # 3 kWh so far: under budget
        await asyncio.sleep(0.3)
        assert remote_stops(charger) == []
        await charger.meter_values(1, transaction_id, 6_000)  # 5 kWh: reached
        stop = await charger.wait_for_call("RemoteStopTransaction")
        assert stop.payload == {"transaction_id": transaction_id}
        await charger.meter_values(1, transaction_id, 6_200)  # the car is slow to stop: no second command
        await asyncio.sleep(0.3)
        assert remote_stops(charger) == [transaction_id]


async def test_a_money_budget_stops_the_session_at_its_cost_so_far(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    username, password = await create_account_with_role(sqlite_server, "admin")
    staff = bearer(await login_as(api, username, password))
    charge_point_id = await sqlite_server.add_charger()
    tariff = await api.post(
        "/api/admin/tariffs", json={"name": "kWh only", "currency": "EUR", "price_per_kwh": "0.50"}, headers=staff
    )
    body = {"tariff_id": tariff.json()["id"], "charge_point_id": charge_point_id}
    assert (await api.post("/api/admin/tariff_assignments", json=body, headers=staff)).status_code == 201
    tokens = await signup(api)
    me = (await api.get("/api/me", headers=bearer(tokens))).json()
    # An admin sets the driver's budget: 2.00 EUR, i.e. 4 kWh at 0.50.
    budget = await api.put(f"/api/admin/users/{me['id']}/budget", json={"max_cost": "2.00"}, headers=staff)
    assert budget.json() == {"max_energy_wh": None, "max_cost": "2.00"}
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await started_session(charger, tokens["idTag"])
        await charger.meter_values(1, transaction_id, 4_000)  # 3 kWh: 1.50 EUR
        await asyncio.sleep(0.3)
        assert remote_stops(charger) == []
        await charger.meter_values(1, transaction_id, 5_000)  # 4 kWh: 2.00 EUR
        stop = await charger.wait_for_call("RemoteStopTransaction")
        assert stop.payload == {"transaction_id": transaction_id}


async def test_without_a_budget_nothing_is_stopped(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await started_session(charger, tokens["idTag"])
        await charger.meter_values(1, transaction_id, 90_000)
        with pytest.raises(TimeoutError):
            await charger.wait_for_call("RemoteStopTransaction", within=0.5)


async def test_a_driver_reads_changes_and_removes_their_budget(api: httpx.AsyncClient) -> None:
    user = bearer(await signup(api))
    assert (await api.get("/api/me/budget", headers=user)).status_code == 404
    assert (await api.put("/api/me/budget", json={}, headers=user)).status_code == 422
    assert (await api.put("/api/me/budget", json={"max_cost": "-1"}, headers=user)).status_code == 422
    await api.put("/api/me/budget", json={"max_energy_wh": 20_000, "max_cost": "15.5"}, headers=user)
    assert (await api.get("/api/me/budget", headers=user)).json() == {"max_energy_wh": 20_000, "max_cost": "15.50"}
    assert (await api.delete("/api/me/budget", headers=user)).status_code == 204
    assert (await api.get("/api/me/budget", headers=user)).status_code == 404
