"""Migration 0038 adds OCPI locations, connectors' OCPI details and the push outbox to an existing database in place,
on SQLite and PostgreSQL: a charger is on one location at most and leaves it (and its details) with its deletion, a
party's pushes go with the party, and the way down drops it all and keeps the chargers and parties."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

EXISTING = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-38', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-39', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO ocpi_parties (id, country_code, party_id, role, state, endpoints, roles, created_at, updated_at)
    VALUES (5, 'DE', 'EMS', 'EMSP', 'REGISTERED', '[]', '[]', '2026-01-01 10:00:00', '2026-01-01 10:00:00')
"""
LOCATIONS = """
INSERT INTO ocpi_locations (id, address, city, country, latitude, longitude, time_zone, facilities, publish,
        created_at, last_updated)
    VALUES (1, 'Stationsplein 1', 'Amsterdam', 'NLD', 52.37, 4.9, 'Europe/Amsterdam', '[]', TRUE,
        '2026-03-01 10:00:00', '2026-03-01 10:00:00');
INSERT INTO ocpi_locations (id, address, city, country, latitude, longitude, time_zone, facilities, publish,
        created_at, last_updated)
    VALUES (2, 'Dam 1', 'Amsterdam', 'NLD', 52.37, 4.89, 'Europe/Amsterdam', '[]', TRUE,
        '2026-03-01 10:00:00', '2026-03-01 10:00:00');
INSERT INTO ocpi_location_chargers (charge_point_id, location_id) VALUES ('CP-38', 1);
INSERT INTO ocpi_connectors (charge_point_id, connector_id, standard, format, power_type, max_voltage, max_amperage,
        updated_at)
    VALUES ('CP-38', 1, 'IEC_62196_T2', 'SOCKET', 'AC_3_PHASE', 230, 32, '2026-03-01 10:00:00');
INSERT INTO ocpi_pushes (party_id, method, url, body, status, attempts, created_at)
    VALUES (5, 'PUT', 'https://emsp.example.com/ocpi/2.2.1/locations/NL/CSM/1', '{}', 'PENDING', 0,
        '2026-03-01 10:00:00')
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)


def _run(connection: Connection, statements: str) -> None:
    for statement in statements.strip().split(";\n"):
        connection.execute(text(statement))


async def test_an_existing_database_gets_ocpi_locations_and_loses_them_on_the_way_down(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0037")
            await connection.run_sync(_run, EXISTING)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0038")
            await connection.run_sync(_run, LOCATIONS)
        with pytest.raises(IntegrityError):  # a charger is on one location at most
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO ocpi_location_chargers (charge_point_id, location_id) VALUES ('CP-38', 2)")
                )
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA foreign_keys = ON"))
            await connection.execute(text("DELETE FROM chargers WHERE charge_point_id = 'CP-38'"))
            await connection.execute(text("DELETE FROM ocpi_parties WHERE id = 5"))
            left = [
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                for table in ("ocpi_location_chargers", "ocpi_connectors", "ocpi_pushes", "ocpi_locations")
            ]
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0037", down=True)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
            chargers = (await connection.execute(text("SELECT charge_point_id FROM chargers"))).scalars().all()
    finally:
        await engine.dispose()
    assert left == [0, 0, 0, 2]
    assert not {"ocpi_locations", "ocpi_location_chargers", "ocpi_connectors", "ocpi_pushes"} & set(tables)
    assert list(chargers) == ["CP-39"]
