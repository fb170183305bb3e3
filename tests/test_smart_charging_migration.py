"""Migration 0033 (smart charging on both versions) upgrades a database in place, on SQLite and PostgreSQL:
the 1.6 charging profiles it kept as csChargingProfiles read back in csms's neutral form, and it goes
back down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import (
    BACKENDS,
    bearer,
    create_account_with_role,
    fresh_database,
    login_as,
    settings_for,
    start_server,
    stop_server,
)

MAXIMUM = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "validFrom": "2026-01-01T00:00:00Z",
    "chargingSchedule": {
        "startSchedule": "2026-01-01T00:00:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}, {"startPeriod": 3600, "limit": 16.5}],
    },
}
TX = {
    "chargingProfileId": 2,
    "transactionId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "duration": 600,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400, "numberPhases": 1}],
    },
}


@pytest.fixture(params=BACKENDS)
def database_at_0023(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0023_with_profiles(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0023")
    connection.execute(
        text(
            "INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at, ocpp_version)"
            " VALUES ('CP-1', 'x', FALSE, '2026-01-01 08:00:00', '1.6')"
        )
    )
    for connector_id, profile in ((0, MAXIMUM), (2, TX)):
        connection.execute(
            text(
                "INSERT INTO charging_profiles (charge_point_id, connector_id, charging_profile_id, stack_level,"
                " purpose, profile, created_at) VALUES ('CP-1', :connector, :id, :level, :purpose, :profile,"
                " '2026-01-01 09:00:00')"
            ),
            {
                "connector": connector_id,
                "id": profile["chargingProfileId"],
                "level": profile["stackLevel"],
                "purpose": profile["chargingProfilePurpose"],
                "profile": json.dumps(profile),
            },
        )


def _down_to_0023(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0023")


async def _run_sync(url: str, step: Any) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(step)
    finally:
        await engine.dispose()


async def _profiles_through_the_api(url: str) -> list[dict[str, Any]]:
    """Start a node on the database (it migrates to head) and read the profiles as an operator does."""
    handle, task, node = await start_server(settings_for(url))
    try:
        username, password = await create_account_with_role(node, "admin")
        async with httpx.AsyncClient(base_url=node.http_url, timeout=30) as client:
            headers = bearer(await login_as(client, username, password))
            response = await client.get("/api/admin/chargers/CP-1/charging_profiles", headers=headers)
    finally:
        await stop_server(handle, task)
    found: list[dict[str, Any]] = response.json()
    return found


async def test_1_6_profiles_read_back_in_neutral_form_after_0024_and_0024_goes_back_down(
    database_at_0023: str,
) -> None:
    await _run_sync(database_at_0023, _to_0023_with_profiles)
    listed = await _profiles_through_the_api(database_at_0023)

    for item in listed:
        item.pop("created_at")
    assert listed == [
        {
            "connector_id": 0,
            "charging_profile_id": 1,
            "stack_level": 0,
            "purpose": "ChargingStationMaxProfile",
            "kind": "Absolute",
            "recurrency": None,
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": None,
            "transaction_id": None,
            "transaction_key": None,
            "charging_rate_unit": "A",
            "periods": [
                {"start_period": 0, "limit": 32.0, "number_phases": None},
                {"start_period": 3600, "limit": 16.5, "number_phases": None},
            ],
            "duration": None,
            "start_schedule": "2026-01-01T00:00:00Z",
            "min_charging_rate": None,
        },
        {
            "connector_id": 2,
            "charging_profile_id": 2,
            "stack_level": 1,
            "purpose": "TxProfile",
            "kind": "Relative",
            "recurrency": None,
            "valid_from": None,
            "valid_to": None,
            "transaction_id": 7,
            "transaction_key": None,
            "charging_rate_unit": "W",
            "periods": [{"start_period": 0, "limit": 7400.0, "number_phases": 1}],
            "duration": 600,
            "start_schedule": None,
            "min_charging_rate": None,
        },
    ]

    await _run_sync(database_at_0023, _down_to_0023)
    engine = create_engine(database_at_0023)
    try:
        async with engine.connect() as connection:
            purposes = (await connection.execute(text("SELECT purpose FROM charging_profiles ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [row[0] for row in purposes] == ["ChargePointMaxProfile", "TxProfile"]
