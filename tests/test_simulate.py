"""`csms simulate`: a fleet that registers itself, charges, and obeys the app's remote start, in OCPP 1.6,
2.0.1, 2.1 or a mix; the command run as an operator runs it, a real process against a running csms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.simulator.fleet import FleetOptions, FleetStats, register_chargers, run_fleet
from tests.conftest import USER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.processes import CSMS, sqlite_env
from tests.support.waiting import poll

# The command imports and connects in a process of its own: on a busy machine that can take a while.
FLEET_DEADLINE_SECONDS = 90


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


@dataclass
class Simulation:
    process: asyncio.subprocess.Process
    stdout: Path
    stderr: Path

    async def interrupt(self) -> int:
        """Ctrl-C, as an operator ends `csms simulate`; its exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(FLEET_DEADLINE_SECONDS):
            return await self.process.wait()


@contextlib.asynccontextmanager
async def simulate(server: RunningServer, directory: Path, *args: str) -> AsyncIterator[Simulation]:
    """`csms simulate --url SERVER ARGS...` running until the block ends (or it exits by itself)."""
    out, err = directory / "simulate.out", directory / "simulate.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            CSMS, "simulate", "--url", server.http_url, *args, stdout=stdout, stderr=stderr,
            env=sqlite_env(directory), cwd=directory,
        )  # fmt: skip
    simulation = Simulation(process, out, err)
    try:
        yield simulation
    finally:
        if process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await simulation.interrupt()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def charger_of(api: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)
    return response.json() if response.status_code == 200 else {}


async def records_of(api: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get("/api/transactions", headers=bearer(tokens))).json()
    return found


async def test_a_mixed_fleet_speaks_each_version_in_turn_and_charges_on_each(
    sqlite_server: RunningServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    admin = bearer(await login_as(api, admin_name))
    driver = await signup(api)
    # Its RFID sessions present the driver's card (2.x stations as an ISO14443 token), so csms authorizes
    # them and they become the driver's records.
    card = f"CARD-{secrets.token_hex(4).upper()}"
    registered = await api.post("/api/me/id_tags", json={"id_tag": card, "type": "ISO14443"}, headers=bearer(driver))
    assert registered.status_code == 201, registered.text
    async with simulate(
        sqlite_server, tmp_path,
        "--ocpp", "1.6,2.0.1,2.1", "--chargers", "3", "--prefix", "MIXED", "--register-as", f"{admin_name}:{USER_PASSWORD}",
        "--id-tag", card, "--idle-seconds", "0.5", "--session-seconds", "2", "--meter-interval", "0.5",
        "--heartbeat-interval", "1",
    ) as simulation:  # fmt: skip
        expected = {"MIXED00001": "1.6", "MIXED00002": "2.0.1", "MIXED00003": "2.1"}
        for charge_point_id, version in expected.items():
            charger = await poll(
                lambda cp=charge_point_id: charger_of(api, admin, cp),
                until=lambda found: len(found.get("connectors", [])) == 2,
                within=FLEET_DEADLINE_SECONDS,
            )
            assert (charger["ocpp_version"], charger["vendor"]) == (version, "csms-sim"), charger
        assert {c["evse_id"] for c in (await charger_of(api, admin, "MIXED00002"))["connectors"]} == {1, 2}

        def charged_on_each(records: list[dict[str, Any]]) -> bool:
            finished = {r["charge_point_id"] for r in records if not r["is_active"] and r["energy_wh"] > 0}
            return set(expected) <= finished

        await poll(lambda: records_of(api, driver), until=charged_on_each, within=FLEET_DEADLINE_SECONDS)
        assert await simulation.interrupt() == 0
    output = simulation.stdout.read_text()
    assert "registered 3 new chargers" in output
    assert simulation.stderr.read_text() == ""
    summary = output.splitlines()[-1]  # after Ctrl-C, the fleet's totals
    assert summary.startswith("chargers 0/3 connected") and "| errors 0 |" in summary, summary
    records = await records_of(api, driver)
    of_2x = [r for r in records if r["charge_point_id"] in ("MIXED00002", "MIXED00003") and r["energy_wh"] > 0]
    assert all(r["transaction_key"] and r["stop_reason"] == "Local" for r in of_2x if not r["is_active"]), of_2x


@pytest.mark.parametrize(
    ("version", "model", "prefix"), [("2.0.1", "SimStation201", "APP201"), ("2.1", "SimStation21", "APP21")]
)
async def test_the_app_starts_and_stops_a_simulated_2x_station(
    sqlite_server: RunningServer, api: httpx.AsyncClient, tmp_path: Path, version: str, model: str, prefix: str
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    admin = bearer(await login_as(api, admin_name))
    driver = await signup(api)
    station_id = f"{prefix}00001"
    async with simulate(
        sqlite_server, tmp_path,
        "--ocpp", version, "--chargers", "1", "--prefix", prefix, "--register-as", f"{admin_name}:{USER_PASSWORD}",
        "--idle-seconds", "3600", "--session-seconds", "3600", "--meter-interval", "0.3",
    ) as simulation:  # fmt: skip
        station = await poll(
            lambda: charger_of(api, admin, station_id),
            until=lambda found: len(found.get("connectors", [])) == 2,
            within=FLEET_DEADLINE_SECONDS,
        )
        assert (station["ocpp_version"], station["model"]) == (version, model)

        async def start() -> httpx.Response:
            body = {"evse_id": station_id, "connector_id": 2}
            return await api.post("/api/start_charging", json=body, headers=bearer(driver))

        answer = await poll(start, until=lambda response: response.status_code != 409, within=FLEET_DEADLINE_SECONDS)
        assert answer.status_code == 200 and answer.json() == {"status": "Accepted"}, answer.text
        charging = await poll(
            lambda: records_of(api, driver),
            until=lambda records: bool(records) and records[0]["energy_wh"] > 0,
            within=FLEET_DEADLINE_SECONDS,
        )
        record = charging[0]
        assert (record["charge_point_id"], record["evse_id"], record["is_active"]) == (station_id, 2, True)

        stop = await api.post("/api/stop_charging", json={"transaction_id": record["id"]}, headers=bearer(driver))
        assert stop.status_code == 200 and stop.json() == {"status": "Accepted"}, stop.text
        stopped = await poll(
            lambda: records_of(api, driver),
            until=lambda records: not records[0]["is_active"],
            within=FLEET_DEADLINE_SECONDS,
        )
        assert await simulation.interrupt() == 0
    assert simulation.stderr.read_text() == ""
    assert len(stopped) == 1 and stopped[0]["stop_reason"] == "Remote"
    assert stopped[0]["energy_wh"] >= record["energy_wh"] > 0
    detail = (await api.get(f"/api/transactions/{record['id']}", headers=bearer(driver))).json()
    measurands = {value["measurand"] for value in detail["meter_values"]}
    assert {"Energy.Active.Import.Register", "Power.Active.Import"} <= measurands


async def test_an_unknown_version_is_refused_before_anything_connects(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    async with simulate(sqlite_server, tmp_path, "--ocpp", "1.6,1.5") as simulation:
        async with asyncio.timeout(FLEET_DEADLINE_SECONDS):
            assert await simulation.process.wait() == 2
    assert "unknown OCPP version '1.5' (choose from 1.6, 2.0.1, 2.1)" in simulation.stderr.read_text()


async def readings_since(
    api: httpx.AsyncClient, admin: dict[str, str], transaction_id: int, since: datetime, measurand: str
) -> list[float]:
    """The values of `measurand` csms recorded for the transaction from meter values taken after `since`."""
    detail = (await api.get(f"/api/transactions/{transaction_id}", headers=admin)).json()
    return [
        float(value["value"])
        for value in detail["meter_values"] or []
        if value["measurand"] == measurand and datetime.fromisoformat(value["timestamp"]) > since
    ]


async def connector_status(api: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> str:
    return str((await charger_of(api, admin, charge_point_id))["connectors"][0]["status"])


async def charging_states_sent(
    sqlite_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str
) -> list[str]:
    """The chargingStates a 2.x station's TransactionEvents named, in the message log."""
    await sqlite_server.flush_message_log()
    log = (await api.get(f"/api/admin/chargers/{charge_point_id}/messages", headers=admin)).json()
    frames = [json.loads(message["frame"]) for message in log if message["action"] == "TransactionEvent"]
    return [
        frame[3]["transactionInfo"]["chargingState"]
        for frame in frames
        if frame[0] == 2 and "chargingState" in frame[3]["transactionInfo"]
    ]


@pytest.mark.parametrize(("version", "prefix"), [("1.6", "LIMIT16"), ("2.0.1", "LIMIT201")])
async def test_a_fleet_car_draws_at_most_the_limit_csms_sets_at_once_and_waits_under_a_limit_of_zero(
    sqlite_server: RunningServer, api: httpx.AsyncClient, version: str, prefix: str
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    admin = bearer(await login_as(api, admin_name))
    driver = await signup(api)
    # A meter interval far longer than the deadlines below: what csms sees in time, the car sent because its
    # limit changed.
    options = fleet_options(
        sqlite_server, prefix, chargers=1, idle_seconds=3600, session_seconds=3600, meter_interval=60, duration=0
    )
    options.ocpp_versions = (version,)
    charge_point_id = options.charge_point_id(0)
    await register_chargers(options, admin_name, USER_PASSWORD)
    stats = FleetStats()
    fleet = asyncio.create_task(run_fleet(options, stats=stats))
    profiles_url = f"/api/admin/chargers/{charge_point_id}/charging_profiles"

    async def limit(transaction_id: int, amps: float) -> datetime:
        """Send the transaction a TxProfile of `amps`; when (just before it was put in force)."""
        sent_at = datetime.now(UTC)
        body = {
            "connector_id": 1, "charging_profile_id": 5, "stack_level": 1, "purpose": "TxProfile",
            "transaction_id": transaction_id, "charging_rate_unit": "A", "periods": [{"start_period": 0, "limit": amps}],
        }  # fmt: skip
        response = await api.post(profiles_url, json=body, headers=admin)
        assert response.json() == {"status": "Accepted"}, response.text
        return sent_at

    async def currents(since: datetime) -> list[float]:
        return await readings_since(api, admin, transaction["id"], since, "Current.Import")

    try:

        async def start() -> httpx.Response:
            body = {"evse_id": charge_point_id, "connector_id": 1}
            return await api.post("/api/start_charging", json=body, headers=bearer(driver))

        answer = await poll(start, until=lambda response: response.status_code != 409, within=FLEET_DEADLINE_SECONDS)
        assert answer.json() == {"status": "Accepted"}, answer.text
        transaction = (await poll(lambda: records_of(api, driver), until=bool, within=FLEET_DEADLINE_SECONDS))[0]

        since = await limit(transaction["id"], 10)
        drawn = await poll(lambda: currents(since), until=lambda values: len(values) >= 3)  # L1, L2 and L3
        assert all(9 <= amps <= 10 for amps in drawn), drawn
        powers = await readings_since(api, admin, transaction["id"], since, "Power.Active.Import")
        assert powers and all(0 < watts <= 10 * 230 * 3 for watts in powers), powers
        assert await readings_since(api, admin, transaction["id"], since, "Current.Offered") == [10]

        since = await limit(transaction["id"], 0)
        drawn = await poll(lambda: currents(since), until=lambda values: len(values) >= 3)
        assert drawn == [0, 0, 0]
        if version == "1.6":
            await poll(
                lambda: connector_status(api, admin, charge_point_id), until=lambda status: status == "SuspendedEVSE"
            )
        else:
            assert "SuspendedEVSE" in await charging_states_sent(sqlite_server, api, admin, charge_point_id)

        since = datetime.now(UTC)
        cleared = await api.delete(profiles_url, params={"charging_profile_id": 5}, headers=admin)
        assert cleared.json() == {"status": "Accepted"}
        drawn = await poll(lambda: currents(since), until=lambda values: len(values) >= 3)
        assert all(31 <= amps <= 32 for amps in drawn), drawn  # the car's and the charger's maximum again
        if version == "1.6":
            await poll(lambda: connector_status(api, admin, charge_point_id), until=lambda status: status == "Charging")
        else:
            assert (await charging_states_sent(sqlite_server, api, admin, charge_point_id))[-1] == "Charging"
    finally:
        fleet.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fleet
    assert stats.errors == 0


async def test_simulate_gives_cars_that_draw_less_than_the_charger_offers(
    sqlite_server: RunningServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    admin = bearer(await login_as(api, admin_name))
    driver = await signup(api)
    async with simulate(
        sqlite_server, tmp_path,
        "--ocpp", "2.0.1", "--chargers", "1", "--prefix", "LOWDRAW", "--register-as", f"{admin_name}:{USER_PASSWORD}",
        "--idle-seconds", "3600", "--session-seconds", "3600", "--meter-interval", "0.5",
        "--max-current-a", "16", "--car-max-current-a", "32", "--low-draw-share", "1", "--low-draw-current-a", "10",
    ) as simulation:  # fmt: skip

        async def start() -> httpx.Response:
            body = {"evse_id": "LOWDRAW00001", "connector_id": 1}
            return await api.post("/api/start_charging", json=body, headers=bearer(driver))

        # 404 until the command has registered it, 409 until it is connected
        answer = await poll(
            start, until=lambda response: response.status_code not in (404, 409), within=FLEET_DEADLINE_SECONDS
        )
        assert answer.json() == {"status": "Accepted"}, answer.text
        transaction = (await poll(lambda: records_of(api, driver), until=bool, within=FLEET_DEADLINE_SECONDS))[0]
        since = datetime.fromisoformat(transaction["start_timestamp"])
        drawn = await poll(
            lambda: readings_since(api, admin, transaction["id"], since, "Current.Import"),
            until=lambda values: len(values) >= 6,
            within=FLEET_DEADLINE_SECONDS,
        )
        offered = await readings_since(api, admin, transaction["id"], since, "Current.Offered")
        detail = (await api.get(f"/api/transactions/{transaction['id']}", headers=admin)).json()
        assert await simulation.interrupt() == 0
    assert all(9 <= amps <= 10 for amps in drawn), drawn
    assert offered and set(offered) == {16}, offered
    registers = [
        (datetime.fromisoformat(value["timestamp"]), float(value["value"]))
        for value in detail["meter_values"]
        if value["measurand"] == "Energy.Active.Import.Register"
    ]
    (first_at, first_wh), (last_at, last_wh) = registers[0], registers[-1]
    at_10_a = 10 * 230 * 3 * (last_at - first_at).total_seconds() / 3600  # the register grows at the power drawn
    assert 0.8 * at_10_a - 1 <= last_wh - first_wh <= at_10_a + 1, (registers, at_10_a)


async def test_simulate_puts_its_chargers_on_a_site_and_its_cars_share_the_site_s_current(
    sqlite_server: RunningServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    admin_name, _ = await create_account_with_role(sqlite_server, "admin")
    admin = bearer(await login_as(api, admin_name))
    site_name = f"SimSite-{secrets.token_hex(3)}"
    async with simulate(
        sqlite_server, tmp_path,
        "--ocpp", "1.6,2.0.1", "--chargers", "3", "--connectors", "1", "--prefix", "SITED",
        "--register-as", f"{admin_name}:{USER_PASSWORD}", "--site", f"{site_name}:21",
        "--idle-seconds", "3600", "--session-seconds", "3600", "--meter-interval", "0.5",
    ) as simulation:  # fmt: skip
        # Three drivers start charging from the app, one on each charger.
        for index in (1, 2, 3):
            driver = bearer(await signup(api))

            async def start(charger: str = f"SITED0000{index}", driver: dict[str, str] = driver) -> httpx.Response:
                body = {"evse_id": charger, "connector_id": 1}
                return await api.post("/api/start_charging", json=body, headers=driver)

            # 404 until the command has registered it, 409 until it is connected
            answer = await poll(
                start, until=lambda response: response.status_code not in (404, 409), within=FLEET_DEADLINE_SECONDS
            )
            assert answer.json() == {"status": "Accepted"}, answer.text

        async def site() -> dict[str, Any]:
            found = [s for s in (await api.get("/api/admin/sites", headers=admin)).json() if s["name"] == site_name]
            return found[0] if found else {}

        # Three cars on 21 A: 7 A each, which each charger accepted.
        view = await poll(
            site,
            until=lambda s: [a["limit_a"] for a in s.get("sessions", []) if a["state"] == "charging"] == [7.0] * 3,
            within=FLEET_DEADLINE_SECONDS,
        )
        transaction_id = view["sessions"][0]["transaction_id"]
        since = datetime.fromisoformat(view["sessions"][0]["updated_at"])
        drawn = await poll(
            lambda: readings_since(api, admin, transaction_id, since, "Current.Import"),
            until=lambda values: len(values) >= 3,
            within=FLEET_DEADLINE_SECONDS,
        )
        assert await simulation.interrupt() == 0
    assert view["charge_point_ids"] == ["SITED00001", "SITED00002", "SITED00003"]
    assert all(amps <= 7 for amps in drawn), drawn
    assert f"the chargers are on site {site_name}" in simulation.stdout.read_text()
