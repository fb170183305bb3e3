"""Migration 0020 (the version-neutral model's expand step) upgrades a 1.6 database in place, on SQLite and
PostgreSQL: a node on it reads every charger, connector, transaction and tag back with its 1.6 meaning."""

from __future__ import annotations

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

# Rows as csms wrote them at 0018: a charger that booted, with the station's connector 0 and two
# connectors, one made Unavailable; one that never booted; a finished and an open transaction; tags.
RECORDS = """
INSERT INTO chargers (charge_point_id, password_hash, vendor, model, registration_status, is_connected,
                      last_boot_at, created_at)
    VALUES ('CP-BOOTED', 'x', 'ACME', 'Wallbox', 'Accepted', FALSE, '2026-01-01 09:00:00', '2026-01-01 08:00:00'),
           ('CP-NEVER', 'x', NULL, NULL, NULL, FALSE, NULL, '2026-01-01 08:00:00');
INSERT INTO connectors (charge_point_id, connector_id, status, error_code, status_at)
    VALUES ('CP-BOOTED', 0, 'Available', 'NoError', '2026-01-01 09:00:01'),
           ('CP-BOOTED', 1, 'Charging', 'NoError', '2026-01-01 10:00:01'),
           ('CP-BOOTED', 2, 'Unavailable', 'NoError', '2026-01-01 09:00:01');
INSERT INTO id_tags (id_tag, label, status, parent_id_tag, created_at)
    VALUES ('CARD-0001', 'Blue fob', 'Accepted', 'FLEET', '2026-01-01 08:00:00'),
           ('CARD-0002', NULL, 'Blocked', NULL, '2026-01-01 08:00:00');
INSERT INTO transactions (id, charge_point_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp,
                          meter_stop, stop_timestamp, stop_reason, created_at, closed_by, meter_went_backwards)
    VALUES (7, 'CP-BOOTED', 1, 'CARD-0001', 'Accepted', 1000, '2026-01-01 10:00:00', 6000, '2026-01-01 11:00:00',
            'Local', '2026-01-01 10:00:00', 'charger', FALSE),
           (8, 'CP-BOOTED', 2, 'CARD-0001', 'Accepted', 6000, '2026-01-01 12:00:00', NULL, NULL, NULL,
            '2026-01-01 12:00:00', NULL, FALSE);
INSERT INTO charger_configuration_keys (charge_point_id, key, value, readonly, updated_at)
    VALUES ('CP-BOOTED', 'HeartbeatInterval', '300', FALSE, '2026-01-01 09:00:00');
"""


@pytest.fixture(params=BACKENDS)
def database_at_0018(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0018_with_records(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0018")
    for statement in RECORDS.split(";"):
        if statement.strip():
            connection.execute(text(statement))


def _down_to_0018(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0018")


async def _fill_at_0018(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0018_with_records)
    finally:
        await engine.dispose()


async def _read_through_the_api(url: str) -> dict[str, Any]:
    """Start a node on the database (it migrates to head) and read it back as an operator does."""
    handle, task, node = await start_server(settings_for(url))
    try:
        username, password = await create_account_with_role(node, "admin")
        async with httpx.AsyncClient(base_url=node.http_url, timeout=30) as client:
            headers = bearer(await login_as(client, username, password))
            read = {
                name: (await client.get(path, headers=headers)).json()
                for name, path in (
                    ("chargers", "/api/admin/chargers"),
                    ("transactions", "/api/admin/transactions"),
                    ("tags", "/api/admin/id_tags"),
                )
            }
    finally:
        await stop_server(handle, task)
    return read


def _connectors(charger: dict[str, Any]) -> list[tuple[Any, ...]]:
    fields = ("connector_id", "evse_id", "evse_connector_id", "status", "error_code", "availability")
    return [tuple(connector[field] for field in fields) for connector in charger["connectors"]]


async def test_a_16_database_reads_back_with_its_16_meaning_after_0020_and_0020_goes_back_down(
    database_at_0018: str,
) -> None:
    await _fill_at_0018(database_at_0018)
    read = await _read_through_the_api(database_at_0018)

    chargers = {charger["charge_point_id"]: charger for charger in read["chargers"]}
    assert {name: charger["ocpp_version"] for name, charger in chargers.items()} == {
        "CP-BOOTED": "1.6",
        "CP-NEVER": "1.6",
    }
    assert (chargers["CP-BOOTED"]["vendor"], chargers["CP-BOOTED"]["model"]) == ("ACME", "Wallbox")
    assert _connectors(chargers["CP-BOOTED"]) == [
        (0, 0, None, "Available", "NoError", "Operative"),
        (1, 1, 1, "Charging", "NoError", "Operative"),
        (2, 2, 1, "Unavailable", "NoError", "Inoperative"),
    ]
    assert chargers["CP-NEVER"]["connectors"] == []

    fields = ("id", "connector_id", "evse_id", "transaction_key", "id_tag", "meter_start", "meter_stop", "energy_wh")
    assert sorted(tuple(record[field] for field in fields) for record in read["transactions"]) == [
        (7, 1, 1, None, "CARD-0001", 1000, 6000, 5000),
        (8, 2, 2, None, "CARD-0001", 6000, None, 0),
    ]
    assert [(t["closed_by"], t["is_active"], t["stop_reason"]) for t in sorted(read["transactions"], key=_id)] == [
        ("charger", False, "Local"),
        (None, True, None),
    ]

    tag_fields = ("id_tag", "label", "status", "parent_id_tag", "user_id")
    cards = [tag for tag in read["tags"] if tag["user_id"] is None]  # not the admin's own app token
    assert sorted(tuple(tag[field] for field in tag_fields) for tag in cards) == [
        ("CARD-0001", "Blue fob", "Accepted", "FLEET", None),
        ("CARD-0002", None, "Blocked", None, None),
    ]

    engine = create_engine(database_at_0018)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_down_to_0018)
        async with engine.connect() as connection:
            kept = {
                table: (await connection.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one()  # noqa: S608
                for table in ("chargers", "connectors", "transactions", "id_tags", "charger_configuration_keys")
            }
    finally:
        await engine.dispose()
    # The admin account made its app token: 3 tags.
    assert kept == {"chargers": 2, "connectors": 3, "transactions": 2, "id_tags": 3, "charger_configuration_keys": 1}


def _id(record: dict[str, Any]) -> int:
    value: int = record["id"]
    return value
