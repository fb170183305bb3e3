"""Migration 0011 upgrades a database with charging records in place, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, fresh_database

RECORDS = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-MIGRATE', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO transactions (id, charge_point_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp,
                          meter_stop, stop_timestamp, stop_reason, created_at)
    VALUES (1, 'CP-MIGRATE', 1, 'CARD', 'Accepted', 100000, '2026-01-01 10:00:00', 0, '2026-01-01 11:00:00',
            'Local', '2026-01-01 10:00:00'),
           (2, 'CP-MIGRATE', 1, 'CARD', 'Accepted', 0, '2026-01-01 12:00:00', 5000, '2026-01-01 13:00:00',
            'Local', '2026-01-01 12:00:00'),
           (3, 'CP-MIGRATE', 2, 'CARD', 'ConcurrentTx', 0, '2026-01-01 12:00:00', NULL, NULL, NULL,
            '2026-01-01 12:00:00');
"""


@pytest.fixture(params=BACKENDS)
def database_at_0010(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0010_with_records(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0010")
    for statement in RECORDS.split(";"):
        if statement.strip():
            connection.execute(text(statement))


async def test_records_closed_before_0011_were_closed_by_their_charger_and_backwards_meters_are_flagged(
    database_at_0010: str,
) -> None:
    engine = create_engine(database_at_0010)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0010_with_records)
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            query = "SELECT id, closed_by, meter_went_backwards, stale_since FROM transactions ORDER BY id"
            rows = [tuple(row) for row in (await connection.execute(text(query))).all()]
    finally:
        await engine.dispose()
    assert rows == [(1, "charger", True, None), (2, "charger", False, None), (3, None, False, None)]
