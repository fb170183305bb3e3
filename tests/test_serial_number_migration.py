"""Migration 0015 upgrades chargers in place, on SQLite and PostgreSQL: the serial a charger booted with
stays reported data, and the registered serial starts empty for an operator to set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, fresh_database

# Two chargers that booted with the same serial, as the review's impostor did: the upgrade must not trip on it.
CHARGERS = """
INSERT INTO chargers (charge_point_id, password_hash, serial_number, is_connected, created_at)
    VALUES ('CP-ONE', 'x', 'SN-SHARED', FALSE, '2026-01-01 10:00:00'),
           ('CP-TWO', 'x', 'SN-SHARED', FALSE, '2026-01-01 10:00:00');
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0013_with_chargers(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0013")
    connection.execute(text(CHARGERS))


async def test_booted_serials_stay_reported_data_and_registered_serials_start_empty_and_unique(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0013_with_chargers)
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            query = "SELECT charge_point_id, serial_number, registered_serial_number FROM chargers ORDER BY 1"
            rows = [tuple(row) for row in (await connection.execute(text(query))).all()]
        register = "UPDATE chargers SET registered_serial_number = 'SN-SHARED'"
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text(register))
    finally:
        await engine.dispose()
    assert rows == [("CP-ONE", "SN-SHARED", None), ("CP-TWO", "SN-SHARED", None)]
