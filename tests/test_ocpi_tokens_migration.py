"""Migration 0039 adds the OCPI tokens and the roaming token of a transaction to an existing database in place, on
SQLite and PostgreSQL: one token per owner, uid (in any case) and type, a party's tokens leave with it, a
transaction's roaming token with the transaction, and the way down drops them again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

EXISTING = """
INSERT INTO ocpi_parties (id, country_code, party_id, role, state, endpoints, roles, created_at, updated_at)
    VALUES (4, 'NL', 'EMS', 'EMSP', 'REGISTERED', '[]', '[]', '2026-01-01 10:00:00', '2026-01-01 10:00:00');
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-39', 'x', FALSE, '2026-01-01 10:00:00');
INSERT INTO transactions (id, charge_point_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp,
                          created_at)
    VALUES (12, 'CP-39', 1, '04A1B2C3', 'Accepted', 0, '2026-01-02 10:00:00', '2026-01-02 10:00:00')
"""
TOKEN = """
INSERT INTO ocpi_tokens (ocpi_party_key, country_code, party_id, uid, uid_key, type, contract_id, issuer, valid,
                         whitelist, last_updated, received_at)
    VALUES (4, 'NL', 'EMS', :uid, :uid_key, 'RFID', 'NL-EMS-C1', 'Peer', TRUE, 'ALWAYS', '2026-01-02 09:00:00',
            '2026-01-02 09:00:00')
"""
LINK = """
INSERT INTO ocpi_transaction_tokens (transaction_id, ocpi_party_key, country_code, party_id, uid, token_type,
                                     contract_id, auth_method, created_at)
    VALUES (12, 4, 'NL', 'EMS', '04a1b2c3', 'RFID', 'NL-EMS-C1', 'WHITELIST', '2026-01-02 10:00:00')
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _before() -> str:
    """The revision 0039 follows, whichever it is once merged."""
    down = ScriptDirectory.from_config(alembic_config()).get_revision("0039").down_revision
    assert isinstance(down, str)
    return down


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def test_an_existing_database_gets_ocpi_tokens_and_loses_them_on_the_way_down(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, _before())
            for statement in EXISTING.strip().split(";\n"):
                await connection.execute(text(statement))
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0039")
            await connection.execute(text(TOKEN), {"uid": "04a1b2c3", "uid_key": "04A1B2C3"})
            await connection.execute(text(LINK))
        with pytest.raises(IntegrityError):  # the same card under another case is the same token
            async with engine.begin() as connection:
                await connection.execute(text(TOKEN), {"uid": "04A1B2C3", "uid_key": "04A1B2C3"})
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA foreign_keys = ON"))
            await connection.execute(text("DELETE FROM transactions WHERE id = 12"))
            links = (await connection.execute(text("SELECT count(*) FROM ocpi_transaction_tokens"))).scalar_one()
            await connection.execute(text("DELETE FROM ocpi_parties WHERE id = 4"))
            tokens = (await connection.execute(text("SELECT count(*) FROM ocpi_tokens"))).scalar_one()
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, _before())
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    finally:
        await engine.dispose()
    assert (links, tokens) == (0, 0)
    assert "ocpi_tokens" not in tables and "ocpi_transaction_tokens" not in tables
    assert "ocpi_parties" in tables
