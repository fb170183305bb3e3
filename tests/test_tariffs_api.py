"""Tariffs through the API: definitions, which one applies where and to whom, cost on records and CSV."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup

TEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FUTURE = datetime(2031, 1, 1, tzinfo=UTC)
DAY = {"price_per_kwh": "0.30", "price_per_charging_minute": "0.02", "price_per_idle_minute": "0.10"}
EVENING = {"price_per_kwh": "0.40", "price_per_charging_minute": "0.05", "price_per_idle_minute": "0.20"}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
async def staff(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, password = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username, password))


async def new_tariff(http: httpx.AsyncClient, staff: dict[str, str], **prices: str) -> dict[str, Any]:
    body = {"name": "tariff", "currency": "EUR", "tax_rate": "0.20", **prices}
    response = await http.post("/api/admin/tariffs", json=body, headers=staff)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def assign(http: httpx.AsyncClient, staff: dict[str, str], tariff: dict[str, Any], **where: Any) -> int:
    response = await http.post(
        "/api/admin/tariff_assignments", json={"tariff_id": tariff["id"], **where}, headers=staff
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def tariff_for(http: httpx.AsyncClient, staff: dict[str, str], **query: Any) -> int | None:
    response = await http.get("/api/admin/tariff_for", params=query, headers=staff)
    assert response.status_code == 200, response.text
    return response.json()["id"] if response.json() else None


async def test_admin_defines_tariffs_with_exact_decimal_prices(http: httpx.AsyncClient, staff: dict[str, str]) -> None:
    tariff = await new_tariff(http, staff, price_per_kwh="0.3999", session_fee="1.5")
    assert (tariff["price_per_kwh"], tariff["session_fee"], tariff["currency"]) == ("0.3999", "1.5", "EUR")
    fetched = await http.get(f"/api/admin/tariffs/{tariff['id']}", headers=staff)
    assert fetched.json()["price_per_kwh"] == "0.3999"
    assert tariff["id"] in [t["id"] for t in (await http.get("/api/admin/tariffs", headers=staff)).json()]
    bad_tax = await http.post(
        "/api/admin/tariffs", json={"name": "x", "currency": "EUR", "tax_rate": "1.5"}, headers=staff
    )
    assert bad_tax.status_code == 422
    too_precise = {"name": "x", "currency": "EUR", "price_per_kwh": "0.123456"}
    assert (await http.post("/api/admin/tariffs", json=too_precise, headers=staff)).status_code == 422


async def test_connector_beats_charger_beats_default_within_validity(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charge_point_id, elsewhere = await server.add_charger(), await server.add_charger()
    everywhere, charger_wide, connector_two = [await new_tariff(http, staff) for _ in range(3)]
    # The default only in a window no other test charges in, so it prices nobody else's sessions.
    window = {"valid_from": iso(FUTURE), "valid_to": iso(FUTURE + timedelta(days=1))}
    await assign(http, staff, everywhere, **window)
    await assign(http, staff, charger_wide, charge_point_id=charge_point_id)
    await assign(http, staff, connector_two, charge_point_id=charge_point_id, connector_id=2, **window)
    place = {"charge_point_id": charge_point_id, "id_tag": "ANYONE"}
    assert await tariff_for(http, staff, **place, connector_id=1, at=iso(FUTURE)) == charger_wide["id"]
    assert await tariff_for(http, staff, **place, connector_id=2, at=iso(FUTURE)) == connector_two["id"]
    assert (
        await tariff_for(http, staff, **place, connector_id=2, at=iso(FUTURE + timedelta(days=1))) == charger_wide["id"]
    )
    other = {"charge_point_id": elsewhere, "id_tag": "ANYONE", "connector_id": 1}
    assert await tariff_for(http, staff, **other, at=iso(FUTURE)) == everywhere["id"]
    assert await tariff_for(http, staff, **other, at=iso(FUTURE - timedelta(seconds=1))) is None


async def test_a_group_tariff_applies_to_cards_under_its_parent_idtag(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    public, fleet = await new_tariff(http, staff), await new_tariff(http, staff)
    family = f"FAM{secrets.token_hex(4)}".upper()
    member = f"CARD{secrets.token_hex(4)}".upper()
    created = await http.post("/api/admin/id_tags", json={"id_tag": member, "parent_id_tag": family}, headers=staff)
    assert created.status_code == 201
    await assign(http, staff, public, charge_point_id=charge_point_id)
    await assign(http, staff, fleet, parent_id_tag=family)
    place = {"charge_point_id": charge_point_id, "connector_id": 1}
    assert await tariff_for(http, staff, **place, id_tag=member) == fleet["id"]
    assert await tariff_for(http, staff, **place, id_tag="STRANGER") == public["id"]


async def test_the_tariff_in_force_names_the_assignment_that_won_and_needs_a_known_charger(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    tariff = await new_tariff(http, staff)
    assignment_id = await assign(http, staff, tariff, charge_point_id=charge_point_id, connector_id=2)
    place: dict[str, str | int] = {"charge_point_id": charge_point_id, "connector_id": 2}  # no idTag: in no group
    in_force = (await http.get("/api/admin/tariff_for", params=place, headers=staff)).json()
    assert (in_force["id"], in_force["assignment"]["id"]) == (tariff["id"], assignment_id)
    assert (in_force["assignment"]["charge_point_id"], in_force["assignment"]["connector_id"]) == (charge_point_id, 2)
    unknown: dict[str, str | int] = {"charge_point_id": f"NOPE{secrets.token_hex(4)}", "connector_id": 1}
    response = await http.get("/api/admin/tariff_for", params=unknown, headers=staff)
    assert response.status_code == 404
    assert response.json()["detail"] == f"unknown charger {unknown['charge_point_id']}"


async def test_assignments_are_listed_and_removed_and_need_a_known_tariff_and_charger(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    tariff = await new_tariff(http, staff)
    assignment_id = await assign(http, staff, tariff, charge_point_id=charge_point_id)
    listed = (await http.get("/api/admin/tariff_assignments", headers=staff)).json()
    assert assignment_id in [a["id"] for a in listed]
    assert (await http.delete(f"/api/admin/tariff_assignments/{assignment_id}", headers=staff)).status_code == 204
    assert await tariff_for(http, staff, charge_point_id=charge_point_id, connector_id=1, id_tag="X") != tariff["id"]
    unknown_tariff = {"tariff_id": 999_999_999}
    assert (await http.post("/api/admin/tariff_assignments", json=unknown_tariff, headers=staff)).status_code == 404
    no_charger = {"tariff_id": tariff["id"], "connector_id": 1}
    assert (await http.post("/api/admin/tariff_assignments", json=no_charger, headers=staff)).status_code == 422


async def charge_across_a_tariff_change(server: RunningServer, charge_point_id: str, id_tag: str) -> int:
    """10:00-11:00: 10 kWh by 10:30, 15 kWh by 10:45, then the car is full and idles until 11:00."""
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, id_tag, meter_start=0, timestamp=iso(TEN))
        transaction_id = started.transaction_id
        await charger.meter_values(1, transaction_id, 10_000, timestamp=iso(TEN + timedelta(minutes=30)))
        await charger.meter_values(1, transaction_id, 15_000, timestamp=iso(TEN + timedelta(minutes=45)), power_w=0)
        await charger.stop_transaction(transaction_id, 15_000, timestamp=iso(TEN + timedelta(minutes=60)))
    return int(transaction_id)


async def test_a_session_across_a_tariff_change_is_costed_on_records_and_csv(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    day = await new_tariff(http, staff, **DAY, session_fee="1.00")
    evening = await new_tariff(http, staff, **EVENING)
    await assign(http, staff, day, charge_point_id=charge_point_id, valid_to=iso(TEN + timedelta(minutes=30)))
    await assign(http, staff, evening, charge_point_id=charge_point_id, valid_from=iso(TEN + timedelta(minutes=30)))
    transaction_id = await charge_across_a_tariff_change(server, charge_point_id, tokens["idTag"])

    record = (await http.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))).json()
    # by hand: energy 10 x 0.30 + 5 x 0.40 = 5.00; charging 30 x 0.02 + 15 x 0.05 = 1.35; idle 15 x 0.20 = 3.00;
    # fee 1.00; net 10.35; tax 20 % = 2.07; total 12.42
    assert (record["cost"], record["currency"]) == ("12.42", "EUR")
    breakdown = record["cost_breakdown"]
    assert [breakdown[k] for k in ("energy", "charging_time", "idle_time", "session_fee", "net", "tax")] == [
        "5.00",
        "1.35",
        "3.00",
        "1.00",
        "10.35",
        "2.07",
    ]
    assert [piece["tariff_id"] for piece in breakdown["slices"]] == [day["id"], evening["id"]]
    listed = (await http.get("/api/transactions", headers=bearer(tokens))).json()
    assert listed[0]["cost"] == "12.42"
    rows = list(csv.DictReader(io.StringIO((await http.get("/api/transactions.csv", headers=bearer(tokens))).text)))
    assert (rows[0]["cost"], rows[0]["currency"]) == ("12.42", "EUR")


async def test_a_session_without_a_tariff_has_no_cost(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, tokens["idTag"], meter_start=0, timestamp=iso(TEN))
        await charger.stop_transaction(started.transaction_id, 1_000, timestamp=iso(TEN + timedelta(minutes=5)))
    record = (await http.get(f"/api/transactions/{started.transaction_id}", headers=bearer(tokens))).json()
    assert (record["cost"], record["currency"], record["cost_breakdown"]) == (None, None, None)


async def test_a_driver_sees_the_price_in_force_on_a_connector_tax_included(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await charger.status(2, "Available")
    day, evening = await new_tariff(http, staff, **DAY), await new_tariff(http, staff, **EVENING, session_fee="1.50")
    await assign(http, staff, day, charge_point_id=charge_point_id)
    await assign(http, staff, evening, charge_point_id=charge_point_id, connector_id=2)
    driver = bearer(await signup(http))
    where = f"/api/chargers/{charge_point_id}/connectors"
    one = (await http.get(f"{where}/1/price", headers=driver)).json()
    assert one == {
        "tariff_id": day["id"],
        "name": "tariff",
        "currency": "EUR",
        "per_kwh": "0.3600",
        "per_charging_minute": "0.0240",
        "per_idle_minute": "0.1200",
        "session_fee": "0.0000",
        "tax_rate": "0.2000",
        "summary": "0.36 EUR/kWh, 0.024 EUR/min charging, 0.12 EUR/min idle, incl. 20% tax",
    }
    two = (await http.get(f"{where}/2/price", headers=driver)).json()
    assert (two["tariff_id"], two["per_kwh"], two["session_fee"]) == (evening["id"], "0.4800", "1.8000")
    assert (await http.get(f"{where}/3/price", headers=driver)).status_code == 422
    unknown = await http.get("/api/chargers/NO-SUCH-CHARGER/connectors/1/price", headers=driver)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "unknown charger NO-SUCH-CHARGER"}


async def test_a_connector_without_a_tariff_has_no_price(server: RunningServer, http: httpx.AsyncClient) -> None:
    charge_point_id = await server.add_charger()
    response = await http.get(f"/api/chargers/{charge_point_id}/connectors/1/price", headers=bearer(await signup(http)))
    assert response.status_code == 200 and response.json() is None
