"""`csms simulate`: a fleet that registers itself, charges, and obeys the app's remote start."""

from __future__ import annotations

import asyncio

import httpx

from csms.simulator.fleet import FleetOptions, register_chargers, run_fleet
from tests.conftest import USER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.waiting import poll


def fleet_options(server: RunningServer, prefix: str, **overrides: float) -> FleetOptions:
    options = FleetOptions(
        url=server.http_url,
        chargers=2,
        password="simulated-charger-pw",
        prefix=prefix,
        duration=4,
        idle_seconds=0.3,
        session_seconds=1.0,
        meter_interval=0.2,
        heartbeat_interval=0.5,
        reconnect_probability=0,
    )
    for name, value in overrides.items():
        setattr(options, name, value)
    return options


async def test_fleet_registers_itself_and_records_charging_sessions(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    options = fleet_options(sqlite_server, "FLEETA")
    assert await register_chargers(options, admin_name, USER_PASSWORD) == 2
    assert await register_chargers(options, admin_name, USER_PASSWORD) == 0
    stats = await run_fleet(options)
    assert stats.errors == 0 and stats.messages > 20
    admin = bearer(await login_as(api, admin_name))
    records = (
        await api.get("/api/admin/transactions", params={"charge_point_id": "FLEETA00001"}, headers=admin)
    ).json()
    chargers = {c["charge_point_id"]: c for c in (await api.get("/api/admin/chargers", headers=admin)).json()}
    assert chargers["FLEETA00001"]["vendor"] == "csms-sim"
    assert len(chargers["FLEETA00002"]["connectors"]) == 2
    # The fleet's RFID tag is unknown to csms, so its local sessions are refused and stopped at once.
    assert all(r["stop_reason"] == "DeAuthorized" for r in records)


async def test_fleet_charger_starts_a_session_when_the_app_asks(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    options = fleet_options(sqlite_server, "FLEETB", chargers=1, idle_seconds=60, session_seconds=1.5, duration=10)
    await register_chargers(options, admin_name, USER_PASSWORD)
    fleet = asyncio.create_task(run_fleet(options))
    tokens = await signup(api)

    async def start() -> httpx.Response:
        body = {"evse_id": "FLEETB00001", "connector_id": 1}
        return await api.post("/api/start_charging", json=body, headers=bearer(tokens))

    answer = await poll(start, until=lambda response: response.status_code != 409, within=8)  # 409: connecting
    assert answer.json() == {"status": "Accepted"}
    stats = await fleet
    assert stats.errors == 0
    records = (await api.get("/api/transactions", headers=bearer(tokens))).json()
    assert len(records) == 1 and records[0]["energy_wh"] > 0 and records[0]["stop_reason"] in ("Local", None)
