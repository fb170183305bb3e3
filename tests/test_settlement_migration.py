"""Migration 0034 adds the settlements table to an existing database in place, on SQLite and PostgreSQL:
the chargers and transactions already there stay, and a settlement refers to them (and goes with its
charger)."""

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
    VALUES ('CP-21', 'x', FALSE, '2026-01-01 10:00:00');
"""
SETTLEMENT = """
INSERT INTO settlements (charge_point_id, transaction_key, psp_ref, status, amount, settled_at, received_at)
    VALUES ('CP-21', 'tx-1', 'PSP-1', 'Settled', 7.35, '2026-03-02 11:00:00', '2026-03-02 11:00:01');
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0023_with_a_charger(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0023")
    connection.execute(text(EXISTING))


async def test_an_existing_database_gets_settlements_that_go_with_their_charger(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0023_with_a_charger)
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA foreign_keys = ON"))
            await connection.execute(text(SETTLEMENT))
            kept = (await connection.execute(text("SELECT psp_ref, amount FROM settlements"))).all()
            await connection.execute(text("DELETE FROM chargers WHERE charge_point_id = 'CP-21'"))
            left = (await connection.execute(text("SELECT count(*) FROM settlements"))).scalar_one()
    finally:
        await engine.dispose()
    assert [(psp_ref, float(amount)) for psp_ref, amount in kept] == [("PSP-1", 7.35)]
    assert left == 0
