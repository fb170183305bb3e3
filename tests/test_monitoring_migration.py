"""Migration 0031 adds the tables of 2.x events, monitors, customer information and display messages beside an
existing database's chargers, on SQLite and PostgreSQL, and goes back down without touching them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

NEW_TABLES = {
    "station_events",
    "variable_monitors",
    "monitoring_settings",
    "customer_information_requests",
    "customer_information_parts",
    "display_messages",
    "display_message_stations",
    "reported_display_messages",
}
CHARGER = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-OLD', 'x', FALSE, '2026-01-01 10:00:00')
"""
EVENT = """
INSERT INTO station_events (charge_point_id, event_id, timestamp, trigger, actual_value, notification_type,
                            component_name, variable_name, seq_no, generated_at, received_at)
    VALUES ('CP-OLD', 1, '2026-03-02 10:00:00', 'Alerting', '251', 'CustomMonitor', 'EVSE', 'Voltage', 0,
            '2026-03-02 10:00:00', '2026-03-02 10:00:00')
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _up_down_and_up(connection: Connection) -> tuple[set[str], list[tuple[object, ...]], set[str], int]:
    config = alembic_config(connection)
    command.upgrade(config, "0030")
    connection.execute(text(CHARGER))
    command.upgrade(config, "0031")
    added = _tables(connection) & NEW_TABLES
    connection.execute(text(EVENT))
    stored = [tuple(row) for row in connection.execute(text("SELECT charge_point_id, cleared FROM station_events"))]
    command.downgrade(config, "0030")
    left = _tables(connection) & NEW_TABLES
    chargers = connection.execute(text("SELECT count(*) FROM chargers")).scalar_one()
    command.upgrade(config, "0031")
    return added, stored, left, chargers


async def test_the_new_tables_come_beside_existing_chargers_and_go_again(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            added, stored, left, chargers = await connection.run_sync(_up_down_and_up)
    finally:
        await engine.dispose()
    assert added == NEW_TABLES
    assert stored == [("CP-OLD", False)]
    assert (left, chargers) == (set(), 1)
