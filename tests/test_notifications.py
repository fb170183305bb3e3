"""Drivers are told on the live stream when charging starts, is suspended, finishes or fails, with its cost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.events import collect_events
from tests.support.waiting import wait_until


@pytest.fixture
async def driver(sqlite_server: RunningServer, api: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    """A signed-up driver whose live events are collected into `events`."""
    tokens = await signup(api)
    events: list[dict[str, Any]] = []
    watcher = asyncio.create_task(collect_events(sqlite_server.http_url, tokens, events))
    await asyncio.sleep(0.3)  # the stream is subscribed
    yield {"tokens": tokens, "events": events}
    watcher.cancel()


def kinds(events: list[dict[str, Any]], transaction_id: int) -> list[str]:
    return [event["event"] for event in events if event.get("transaction_id") == transaction_id]


async def start(charger: SimulatedCharger, id_tag: str) -> int:
    await charger.status(1, "Charging")
    return int((await charger.start_transaction(1, id_tag, meter_start=0)).transaction_id)


KWH_AT_50_CENTS = {"name": "kWh", "currency": "EUR", "price_per_kwh": "0.50"}


async def priced_charger(
    sqlite_server: RunningServer, api: httpx.AsyncClient, tariff: dict[str, str] = KWH_AT_50_CENTS
) -> str:
    """A charger with the tariff assigned to it, by default 0.50 EUR per kWh, nothing else."""
    username, password = await create_account_with_role(sqlite_server, "admin")
    staff = bearer(await login_as(api, username, password))
    charge_point_id = await sqlite_server.add_charger()
    tariff_id = (await api.post("/api/admin/tariffs", json=tariff, headers=staff)).json()["id"]
    body = {"tariff_id": tariff_id, "charge_point_id": charge_point_id}
    assert (await api.post("/api/admin/tariff_assignments", json=body, headers=staff)).status_code == 201
    return charge_point_id


async def test_a_driver_hears_started_suspended_and_finished_with_cost_so_far_and_cost(
    sqlite_server: RunningServer, api: httpx.AsyncClient, driver: dict[str, Any]
) -> None:
    charge_point_id = await priced_charger(sqlite_server, api)
    events = driver["events"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start(charger, driver["tokens"]["idTag"])
        await wait_until(lambda: "charging_started" in kinds(events, transaction_id))
        await asyncio.sleep(0.2)  # the session's tariff is loaded in the background
        await charger.meter_values(1, transaction_id, 3_000)
        await charger.status(1, "SuspendedEV")
        await charger.stop_transaction(transaction_id, 4_000, reason="EVDisconnected")
        await wait_until(lambda: "charging_finished" in kinds(events, transaction_id))
    seen = kinds(events, transaction_id)
    assert seen.index("charging_started") < seen.index("charging_suspended") < seen.index("charging_finished")
    meter = next(e for e in events if e["event"] == "meter_values" and e["transaction_id"] == transaction_id)
    assert meter["cost_so_far"] == "1.50"  # 3 kWh x 0.50
    finished = next(e for e in events if e["event"] == "charging_finished" and e["transaction_id"] == transaction_id)
    assert (finished["energy_wh"], finished["cost"], finished["currency"]) == (4_000, "2.00", "EUR")


async def test_a_driver_hears_that_charging_failed_when_the_connector_faults(
    sqlite_server: RunningServer, driver: dict[str, Any]
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    events = driver["events"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start(charger, driver["tokens"]["idTag"])
        await charger.status(1, "Faulted", error_code="OverCurrentFailure")
        await wait_until(lambda: "charging_failed" in kinds(events, transaction_id))
    failed = next(e for e in events if e["event"] == "charging_failed")
    assert (failed["status"], failed["error_code"]) == ("Faulted", "OverCurrentFailure")


async def test_a_session_stopped_by_an_emergency_stop_is_reported_as_failed(
    sqlite_server: RunningServer, driver: dict[str, Any]
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    events = driver["events"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start(charger, driver["tokens"]["idTag"])
        await charger.stop_transaction(transaction_id, 500, reason="EmergencyStop")
        await wait_until(lambda: "charging_failed" in kinds(events, transaction_id))
    assert "charging_finished" not in kinds(events, transaction_id)


async def test_drivers_do_not_hear_of_other_drivers_sessions(
    sqlite_server: RunningServer, api: httpx.AsyncClient, driver: dict[str, Any]
) -> None:
    someone_else = await signup(api)
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start(charger, someone_else["idTag"])
        await charger.stop_transaction(transaction_id, 500)
    await asyncio.sleep(0.5)
    assert kinds(driver["events"], transaction_id) == []


def minutes_ago(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_a_connectors_status_prices_only_the_session_on_that_connector(
    sqlite_server: RunningServer, api: httpx.AsyncClient, driver: dict[str, Any]
) -> None:
    idle_tariff = {"name": "idle", "currency": "EUR", "price_per_idle_minute": "0.01"}
    charge_point_id = await priced_charger(sqlite_server, api, idle_tariff)
    neighbour = await signup(api)
    events = driver["events"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        mine, theirs = [
            int((await charger.start_transaction(connector, tokens["idTag"], timestamp=minutes_ago(60))).transaction_id)
            for connector, tokens in ((1, driver["tokens"]), (2, neighbour))
        ]
        await asyncio.sleep(0.2)  # the sessions' tariffs are loaded in the background
        await charger.status(2, "SuspendedEV", timestamp=minutes_ago(60))  # the neighbour's car idles an hour
        await charger.status(1, "SuspendedEV", timestamp=minutes_ago(30))  # mine half an hour
        await charger.meter_values(1, mine, 0)
        await wait_until(lambda: "meter_values" in kinds(events, mine))
    assert theirs != mine
    meter = next(e for e in events if e["event"] == "meter_values" and e["transaction_id"] == mine)
    assert meter["cost_so_far"] == "0.30"  # 30 idle minutes x 0.01, none of the neighbour's hour


async def test_a_driver_hears_charging_finished_for_a_session_superseded_on_its_connector(
    sqlite_server: RunningServer, api: httpx.AsyncClient, driver: dict[str, Any]
) -> None:
    charge_point_id = await priced_charger(sqlite_server, api)
    events = driver["events"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start(charger, driver["tokens"]["idTag"])
        await charger.meter_values(1, transaction_id, 3_000)
        await charger.status(1, "Available")  # its StopTransaction never comes
        await wait_until(lambda: "charging_finished" in kinds(events, transaction_id))
    finished = next(e for e in events if e["event"] == "charging_finished" and e["transaction_id"] == transaction_id)
    assert (finished["closed_by"], finished["reason"], finished["energy_wh"]) == ("superseded", "Other", 3_000)
    assert (finished["cost"], finished["currency"]) == ("1.50", "EUR")  # 3 kWh x 0.50, to the last reading


async def test_a_driver_hears_nothing_of_a_start_refused_with_concurrent_tx(
    sqlite_server: RunningServer, driver: dict[str, Any]
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    events, id_tag = driver["events"], driver["tokens"]["idTag"]
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        charging = await start(charger, id_tag)
        refused = await charger.start_transaction(2, id_tag, meter_start=0)
        assert refused.id_tag_info["status"] == "ConcurrentTx"
        await charger.status(2, "Available")  # ends the refused one
        await wait_until(lambda: "transaction_stopped" in kinds(events, refused.transaction_id))
        await charger.stop_transaction(charging, 1_000, reason="EVDisconnected")
        await wait_until(lambda: "charging_finished" in kinds(events, charging))
    assert "charging_started" in kinds(events, charging)
    assert [kind for kind in kinds(events, refused.transaction_id) if kind.startswith("charging_")] == []
