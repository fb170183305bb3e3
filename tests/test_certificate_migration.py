"""Migration 0018 upgrades chargers in place, on SQLite and PostgreSQL: a charger that reached a security
profile before it keeps that profile as the one the operator allowed, so nothing it could do changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, fresh_database

CHARGERS = """
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at, security_profile)
    VALUES ('CP-AT-3', 'x', FALSE, '2026-01-01 10:00:00', 3),
           ('CP-NEVER', 'x', FALSE, '2026-01-01 10:00:00', NULL);
"""


@pytest.fixture(params=BACKENDS)
def database_at_0013(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0013_with_chargers(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0013")
    for statement in CHARGERS.split(";"):
        if statement.strip():
            connection.execute(text(statement))


def _down_to_0013(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0013")


async def test_chargers_keep_the_profile_they_reached_as_the_one_allowed_and_0018_goes_back_down(
    database_at_0013: str,
) -> None:
    engine = create_engine(database_at_0013)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0013_with_chargers)
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            query = "SELECT charge_point_id, security_profile, security_profile_allowed, certificate_request_until "
            rows = [tuple(row) for row in (await connection.execute(text(query + "FROM chargers ORDER BY 1"))).all()]
        async with engine.begin() as connection:
            await connection.run_sync(_down_to_0013)
    finally:
        await engine.dispose()
    assert rows == [("CP-AT-3", 3, 3, None), ("CP-NEVER", None, None, None)]
