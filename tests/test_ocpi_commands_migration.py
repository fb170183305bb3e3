"""Migration 0041 adds the eMSPs' reservation ids and a token's START_SESSION charger to an existing database in
place, on SQLite and PostgreSQL: one reservation per party and reservation_id, gone with its party or its
reservation; tokens already stored are opened by no command; the way down drops them again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

EXISTING = """
INSERT INTO ocpi_parties (id, country_code, party_id, role, state, endpoints, roles, created_at, updated_at)
    VALUES (4, 'NL', 'EMS', 'EMSP', 'REGISTERED', '[]', '[]', '2026-01-01 10:00:00', '2026-01-01 10:00:00');
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-40', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO reservations (id, charge_point_id, connector_id, id_tag, status, expires_at, created_at, updated_at)
    VALUES (7, 'CP-40', 1, 'CARD', 'Accepted', '2026-01-01 11:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:00');
INSERT INTO reservations (id, charge_point_id, connector_id, id_tag, status, expires_at, created_at, updated_at)
    VALUES (8, 'CP-40', 1, 'CARD', 'Accepted', '2026-01-01 11:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:00');
INSERT INTO ocpi_tokens (ocpi_party_key, country_code, party_id, uid, uid_key, type, contract_id, issuer, valid,
                         whitelist, last_updated, received_at)
    VALUES (4, 'NL', 'EMS', 'CARD', 'CARD', 'RFID', 'NL-EMS-C1', 'Peer', TRUE, 'ALWAYS', '2026-01-01 09:00:00',
            '2026-01-01 09:00:00')
"""
LINK = """
INSERT INTO ocpi_reservations (ocpi_party_key, reservation_id, reservation_key, created_at)
    VALUES (4, :reservation_id, :reservation_key, '2026-01-01 10:00:00')
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _before() -> str:
    """The revision 0041 follows, whichever it is once merged."""
    down = ScriptDirectory.from_config(alembic_config()).get_revision("0041").down_revision
    assert isinstance(down, str)
    return down


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def _count(connection: AsyncConnection) -> int:
    return int((await connection.execute(text("SELECT count(*) FROM ocpi_reservations"))).scalar_one())


async def test_an_existing_database_gets_ocpi_reservations_and_loses_them_on_the_way_down(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, _before())
            for statement in EXISTING.strip().split(";\n"):
                await connection.execute(text(statement))
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0041")
            opened = (
                await connection.execute(
                    text("SELECT uid, command_charge_point_id, command_reference, command_until FROM ocpi_tokens")
                )
            ).all()
            await connection.execute(text(LINK), {"reservation_id": "R-1", "reservation_key": 7})
            await connection.execute(text(LINK), {"reservation_id": "R-2", "reservation_key": 8})
        with pytest.raises(IntegrityError):  # one reservation per party and reservation_id
            async with engine.begin() as connection:
                await connection.execute(text(LINK), {"reservation_id": "R-1", "reservation_key": 8})
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA foreign_keys = ON"))
            await connection.execute(text("DELETE FROM reservations WHERE id = 7"))
            left = await _count(connection)
            await connection.execute(text("DELETE FROM ocpi_parties WHERE id = 4"))
            gone = await _count(connection)
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, _before())
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
            columns = await connection.run_sync(
                lambda sync: [column["name"] for column in sync.dialect.get_columns(sync, "ocpi_tokens")]
            )
    finally:
        await engine.dispose()
    assert [tuple(row) for row in opened] == [("CARD", None, None, None)]
    assert (left, gone) == (1, 0)
    assert "command_until" not in columns and "uid_key" in columns
    assert "ocpi_reservations" not in tables and "reservations" in tables
