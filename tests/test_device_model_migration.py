"""Migration 0036 gives the device model's attributes persistent and constant, in place on SQLite and
PostgreSQL: the rows already kept stay, with both unknown (NULL), and it goes back down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, fresh_database

EXISTING = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CS-35', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO device_model_variables (charge_point_id, component_name, variable_name, value, mutability, updated_at)
    VALUES ('CS-35', 'OCPPCommCtrlr', 'HeartbeatInterval', '300', 'ReadWrite', '2026-01-01 10:00:00');
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0035_with_a_variable(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0035")
    for statement in EXISTING.strip().split(";\n"):
        connection.execute(text(statement))


def _down_to_0035(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0035")


async def test_kept_variables_get_unknown_persistence_and_the_migration_goes_back_down(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0035_with_a_variable)
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            kept = (
                await connection.execute(
                    text("SELECT value, mutability, persistent, constant FROM device_model_variables")
                )
            ).all()
            await connection.execute(text("UPDATE device_model_variables SET persistent = TRUE, constant = FALSE"))
            await connection.run_sync(_down_to_0035)
            after = (await connection.execute(text("SELECT variable_name, value FROM device_model_variables"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in kept] == [("300", "ReadWrite", None, None)]
    assert [tuple(row) for row in after] == [("HeartbeatInterval", "300")]
