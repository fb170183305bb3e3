"""Migration 0040 adds cdr_queued_at to the roaming charges of an existing database in place, on SQLite and
PostgreSQL: charges already stopped count as told of (no old CDR is sent again by the sweep), a running one
does not yet, and the way down drops the column."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

CHARGES = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at) VALUES ('CP-40', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO transactions (id, charge_point_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp,
                          stop_timestamp, created_at, meter_went_backwards)
    VALUES (1, 'CP-40', 1, 'ROAM1', 'Accepted', 0, '2026-03-01 10:00:00', '2026-03-01 11:00:00', '2026-03-01 10:00:00',
            FALSE);
INSERT INTO transactions (id, charge_point_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp,
                          created_at, meter_went_backwards)
    VALUES (2, 'CP-40', 2, 'ROAM2', 'Accepted', 0, '2026-03-01 10:30:00', '2026-03-01 10:30:00', FALSE);
INSERT INTO ocpi_transaction_tokens (transaction_id, country_code, party_id, uid, token_type, contract_id, auth_method, created_at)
    VALUES (1, 'NL', 'EMS', 'ROAM1', 'RFID', 'NL-EMS-C1', 'WHITELIST', '2026-03-01 10:00:01');
INSERT INTO ocpi_transaction_tokens (transaction_id, country_code, party_id, uid, token_type, contract_id, auth_method, created_at)
    VALUES (2, 'NL', 'EMS', 'ROAM2', 'RFID', 'NL-EMS-C2', 'WHITELIST', '2026-03-01 10:30:01');
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0039_with_charges(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0039")
    for statement in CHARGES.strip().split(";\n"):
        connection.execute(text(statement))


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def test_stopped_roaming_charges_count_as_told_of_and_running_ones_do_not(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0039_with_charges)
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0040")
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    text("SELECT transaction_id, cdr_queued_at IS NOT NULL FROM ocpi_transaction_tokens ORDER BY 1")
                )
            ).all()
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, "0039")
        async with engine.begin() as connection:
            kept = (await connection.execute(text("SELECT count(*) FROM ocpi_transaction_tokens"))).scalar_one()
    finally:
        await engine.dispose()
    assert [(tx, bool(queued)) for tx, queued in rows] == [(1, True), (2, False)]
    assert kept == 2
