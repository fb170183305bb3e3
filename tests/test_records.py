"""Charging records: filters, pages, kWh and duration, CSV export, the operator's view."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    new_username,
    signup,
)

DAY_ONE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def charge(server: RunningServer, charge_point_id: str, id_tag: str, start: datetime, wh: int) -> int:
    """A whole charging session as the charger reports it: start, 30 minutes, stop."""
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, id_tag, meter_start=10_000, timestamp=iso(start))
        await charger.stop_transaction(
            started.transaction_id, 10_000 + wh, timestamp=iso(start + timedelta(minutes=30)), reason="EVDisconnected"
        )
    return int(started.transaction_id)


async def test_records_carry_kwh_and_duration_and_filter_by_date_and_charger(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    user = bearer(tokens)
    home, office = await server.add_charger(), await server.add_charger()
    first = await charge(server, home, tokens["idTag"], DAY_ONE, 7_250)
    second = await charge(server, office, tokens["idTag"], DAY_ONE + timedelta(days=1), 3_000)
    third = await charge(server, home, tokens["idTag"], DAY_ONE + timedelta(days=2), 500)

    everything = await http.get("/api/transactions", headers=user)
    assert [r["id"] for r in everything.json()] == [third, second, first]
    assert everything.headers["x-total-count"] == "3"
    oldest = everything.json()[-1]
    assert (oldest["energy_wh"], oldest["energy_kwh"], oldest["duration_seconds"]) == (7250, "7.25", 1800)

    at_home = await http.get("/api/transactions", params={"charge_point_id": home}, headers=user)
    assert [r["id"] for r in at_home.json()] == [third, first]
    day_two = await http.get(
        "/api/transactions",
        params={"from": iso(DAY_ONE + timedelta(days=1)), "to": iso(DAY_ONE + timedelta(days=2))},
        headers=user,
    )
    assert [r["id"] for r in day_two.json()] == [second]
    page = await http.get("/api/transactions", params={"limit": 2, "offset": 1}, headers=user)
    assert [r["id"] for r in page.json()] == [second, first] and page.headers["x-total-count"] == "3"


async def test_page_bounds_are_422(http: httpx.AsyncClient) -> None:
    user = bearer(await signup(http))
    assert (await http.get("/api/transactions", params={"limit": 0}, headers=user)).status_code == 422
    assert (await http.get("/api/transactions", params={"limit": 501}, headers=user)).status_code == 422
    assert (await http.get("/api/transactions", params={"offset": -1}, headers=user)).status_code == 422


async def test_csv_export_has_a_header_and_one_row_per_record(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    transaction_id = await charge(server, charge_point_id, tokens["idTag"], DAY_ONE, 1_234)
    response = await http.get("/api/transactions.csv", headers=bearer(tokens))
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert (rows[0]["id"], rows[0]["charge_point_id"], rows[0]["energy_kwh"], rows[0]["duration_seconds"]) == (
        str(transaction_id),
        charge_point_id,
        "1.234",
        "1800",
    )


async def test_csv_neutralises_spreadsheet_formulas_from_charger_text(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.start_transaction(1, "=HYPERLINK(1)")
    response = await http.get("/api/admin/transactions.csv", params={"charge_point_id": charge_point_id}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["id_tag"] == "'=HYPERLINK(1)"


async def test_admin_sees_everyones_records_and_filters_by_user(server: RunningServer, http: httpx.AsyncClient) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    alice, bob = await signup(http), await signup(http)
    charge_point_id = await server.add_charger()
    alice_record = await charge(server, charge_point_id, alice["idTag"], DAY_ONE, 100)
    bob_record = await charge(server, charge_point_id, bob["idTag"], DAY_ONE + timedelta(hours=1), 200)
    both = await http.get("/api/admin/transactions", params={"charge_point_id": charge_point_id}, headers=admin)
    assert [r["id"] for r in both.json()] == [bob_record, alice_record]
    alice_id = (await http.get("/api/me", headers=bearer(alice))).json()["id"]
    only_alice = await http.get("/api/admin/transactions", params={"user_id": alice_id}, headers=admin)
    assert [r["id"] for r in only_alice.json()] == [alice_record]
    assert (await http.get(f"/api/transactions/{bob_record}", headers=admin)).status_code == 200


async def test_admin_filters_records_by_tag_and_state_and_sorts_them(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    alice, bob = await signup(http), await signup(http)
    charge_point_id = await server.add_charger()
    small = await charge(server, charge_point_id, alice["idTag"], DAY_ONE, 500)
    large = await charge(server, charge_point_id, bob["idTag"], DAY_ONE + timedelta(hours=1), 9_000)
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        running = await charger.start_transaction(1, alice["idTag"], timestamp=iso(DAY_ONE + timedelta(hours=2)))
    running_id = int(running.transaction_id)

    async def ids(**params: str) -> list[int]:
        params = {"charge_point_id": charge_point_id, **params}
        return [r["id"] for r in (await http.get("/api/admin/transactions", params=params, headers=admin)).json()]

    assert await ids(id_tag=alice["idTag"]) == [running_id, small]
    assert await ids(state="running") == [running_id]
    assert await ids(state="finished", id_tag=alice["idTag"]) == [small]
    assert await ids(sort="oldest") == [small, large, running_id]
    assert await ids(sort="energy") == [large, small, running_id]
    assert (await http.get("/api/admin/transactions", params={"state": "paused"}, headers=admin)).status_code == 422
    assert (await http.get("/api/admin/transactions", params={"sort": "cost"}, headers=admin)).status_code == 422


async def test_admin_records_name_their_account(server: RunningServer, http: httpx.AsyncClient) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    driver = new_username("driver")
    tokens = await signup(http, driver)
    charge_point_id = await server.add_charger()
    await charge(server, charge_point_id, tokens["idTag"], DAY_ONE, 100)
    await charge(server, charge_point_id, "NOBODYS-CARD", DAY_ONE + timedelta(hours=1), 100)
    listed = await http.get("/api/admin/transactions", params={"charge_point_id": charge_point_id}, headers=admin)
    assert [r["username"] for r in listed.json()] == [None, driver]
