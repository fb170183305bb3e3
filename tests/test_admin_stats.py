"""The dashboard's figures: chargers online, offline, charging, faulted and unavailable; energy per day in the operator's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as


async def admin_headers(server: RunningServer, api: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(api, username))


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_charger_counts_follow_connections_and_charging_connectors(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    # On both backends: the counts are one statement of filtered aggregates, which each dialect spells.
    headers = await admin_headers(server, http)
    before = (await http.get("/api/admin/stats/chargers", headers=headers)).json()
    charging_id, idle_id = await server.add_charger(), await server.add_charger()
    await server.add_charger()  # never connects
    async with (
        connect_charger(server.ws_url, charging_id, CHARGER_PASSWORD) as charging,
        connect_charger(server.ws_url, idle_id, CHARGER_PASSWORD) as idle,
    ):
        await charging.status(1, "Charging")
        await charging.status(2, "Faulted", error_code="GroundFailure")
        await charging.heartbeat()  # answered after the status is stored: the status is readable now
        await idle.status(0, "Unavailable")
        await idle.status(1, "Available")
        await idle.heartbeat()
        after = (await http.get("/api/admin/stats/chargers", headers=headers)).json()
    assert after["total"] - before["total"] == 3
    assert after["online"] - before["online"] == 2
    assert after["offline"] - before["offline"] == 1
    assert after["charging"] - before["charging"] == 1
    assert after["faulted"] - before["faulted"] == 1
    assert after["unavailable"] - before["unavailable"] == 1


async def test_energy_per_day_counts_each_session_on_the_local_day_it_started(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    headers = await admin_headers(sqlite_server, api)
    charge_point_id = await sqlite_server.add_charger()
    zone = "Pacific/Kiritimati"  # UTC+14: its day differs from the UTC day for 14 hours of each day
    now = datetime.now(UTC)
    before = (await api.get("/api/admin/stats/energy", params={"days": 3, "tz": zone}, headers=headers)).json()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.status(1, "Available")
        two_days_ago = now - timedelta(days=2)
        old = await charger.start_transaction(1, "STATS-1", meter_start=0, timestamp=stamp(two_days_ago))
        await charger.stop_transaction(old.transaction_id, 4_000, timestamp=stamp(two_days_ago + timedelta(hours=1)))
        running = await charger.start_transaction(1, "STATS-2", meter_start=10_000, timestamp=stamp(now))
        await charger.meter_values(1, running.transaction_id, 12_500)
    after = (await api.get("/api/admin/stats/energy", params={"days": 3, "tz": zone}, headers=headers)).json()
    assert [entry["day"] for entry in after] == [entry["day"] for entry in before]
    assert date.fromisoformat(after[-1]["day"]) == (now + timedelta(hours=14)).date()
    gained = {
        entry["day"]: (entry["energy_wh"] - old_entry["energy_wh"], entry["sessions"] - old_entry["sessions"])
        for entry, old_entry in zip(after, before, strict=True)
    }
    assert list(gained.values()) == [(4_000, 1), (0, 0), (2_500, 1)]


async def test_an_unknown_time_zone_is_refused(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    headers = await admin_headers(sqlite_server, api)
    response = await api.get("/api/admin/stats/energy", params={"tz": "Mars/Olympus"}, headers=headers)
    assert response.status_code == 422
    assert "unknown time zone" in response.json()["detail"]
