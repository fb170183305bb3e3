"""A meter that goes backwards: its readings are kept as sent, the record is flagged for staff, and no
negative energy or cost is booked anywhere (records, cost, CSV)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from ocpp.v16 import call as call16

from tests.conftest import RunningServer
from tests.operating import admin, online_charger
from tests.support.charging_records import new_tag, record, wait_for_record

__all__ = ["admin"]


async def price_energy_on(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> None:
    """0.462 EUR a kWh, tax-free, on this charger only."""
    tariff = await http.post(
        "/api/admin/tariffs",
        json={"name": "energy only", "currency": "EUR", "tax_rate": "0", "price_per_kwh": "0.462"},
        headers=admin,
    )
    assert tariff.status_code == 201, tariff.text
    assigned = await http.post(
        "/api/admin/tariff_assignments",
        json={"tariff_id": tariff.json()["id"], "charge_point_id": charge_point_id},
        headers=admin,
    )
    assert assigned.status_code == 201, assigned.text


async def test_a_stop_below_meter_start_is_kept_flagged_and_books_no_energy_or_cost(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await price_energy_on(http, admin, charger.id)
        started = await charger.start_transaction(1, await new_tag(server), meter_start=100_000)
        await charger.stop_transaction(started.transaction_id, 0)
        stopped = await wait_for_record(http, admin, started.transaction_id, lambda seen: seen["cost"] is not None)
    assert (stopped["meter_start"], stopped["meter_stop"]) == (100_000, 0)
    assert (stopped["energy_wh"], Decimal(stopped["energy_kwh"]), stopped["meter_went_backwards"]) == (0, 0, True)
    assert Decimal(stopped["cost"]) == 0 and Decimal(stopped["cost_breakdown"]["energy"]) == 0


async def test_a_reading_below_the_one_before_flags_the_running_session_and_its_cost_so_far_stays_positive(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await price_energy_on(http, admin, charger.id)
        started = await charger.start_transaction(1, await new_tag(server), meter_start=10_000)
        await charger.meter_values(1, started.transaction_id, 12_000)
        assert (await record(http, admin, started.transaction_id))["meter_went_backwards"] is False
        await charger.meter_values(1, started.transaction_id, 4_000)
        running = await record(http, admin, started.transaction_id)
    assert (running["is_active"], running["meter_went_backwards"], running["energy_wh"]) == (True, True, 0)
    assert Decimal(running["cost"]) >= 0
    assert [value["value"] for value in running["meter_values"] if value["unit"] == "Wh"] == ["12000", "4000"]


async def test_the_csv_export_books_no_negative_energy_and_carries_the_flag(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        started = await charger.start_transaction(1, await new_tag(server), meter_start=5_000)
        await charger.stop_transaction(started.transaction_id, 1_000)
    export = await http.get("/api/admin/transactions.csv", params={"charge_point_id": charger.id}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(row["meter_stop"], row["energy_kwh"], row["meter_went_backwards"]) for row in rows] == [
        ("1000", "0", "True")
    ]


async def test_a_reading_no_meter_can_give_is_kept_as_sent_and_never_counted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await price_energy_on(http, admin, charger.id)
        started = await charger.start_transaction(1, await new_tag(server), meter_start=10_000)
        for impossible in ("NaN", "Infinity", "1e30"):
            sampled = {"value": impossible, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            sample = {"timestamp": datetime.now(UTC).isoformat(), "sampledValue": [sampled]}
            answered = await charger.call(
                call16.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[sample]),
                suppress=False,
            )
            assert answered is not None  # a CallResult, not an internal error
        await charger.meter_values(1, started.transaction_id, 12_000)
        running = await wait_for_record(http, admin, started.transaction_id, lambda seen: seen["energy_wh"] == 2_000)
    kept = [value["value"] for value in running["meter_values"] if value["unit"] == "Wh"]
    assert kept == ["NaN", "Infinity", "1e30", "12000"]
    # Priced on the same readings: 2 kWh x 0.462 = 0.924, not a cost from the 1e30 Wh reading.
    assert Decimal(running["cost"]) == Decimal("0.92")
