"""Migration 0037 adds the OCPI parties to an existing database in place, on SQLite and PostgreSQL, keeps one
party per country code and party id and per token digest, and the way down drops them again."""

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

PARTY = """
INSERT INTO ocpi_parties (country_code, party_id, role, state, token_a_digest, endpoints, roles, created_at, updated_at)
    VALUES ('NL', 'EMS', 'EMSP', 'PENDING', :digest, '[]', '[]', '2026-01-01 10:00:00', '2026-01-01 10:00:00')
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _before() -> str:
    """The revision 0037 follows, whichever it is once merged."""
    down = ScriptDirectory.from_config(alembic_config()).get_revision("0037").down_revision
    assert isinstance(down, str)
    return down


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def test_an_existing_database_gets_ocpi_parties_and_loses_them_on_the_way_down(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, _before())
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0037")
            await connection.execute(text(PARTY), {"digest": "a" * 64})
        for clash in ("b" * 64, "a" * 64):  # the same ids, then the same digest under other ids
            with pytest.raises(IntegrityError):
                async with engine.begin() as connection:
                    statement = PARTY if clash != "a" * 64 else PARTY.replace("'EMS'", "'OTH'")
                    await connection.execute(text(statement), {"digest": clash})
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, _before())
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    finally:
        await engine.dispose()
    assert "ocpi_parties" not in tables
