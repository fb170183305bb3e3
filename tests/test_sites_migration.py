"""Migration 0035 adds sites to an existing database in place, on SQLite and PostgreSQL: the tags and vehicles
already there get the charging priority everyone has (1), a charger joins a site and leaves it with its
deletion, and the way down drops it all again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config
from tests.conftest import BACKENDS, fresh_database

EXISTING = """
INSERT INTO users (id, username, password_hash, role, is_active, created_at)
    VALUES (7, 'ann', 'x', 'user', TRUE, '2026-01-01 10:00:00');
INSERT INTO vehicles (id, user_id, name, created_at) VALUES (3, 7, 'Van', '2026-01-01 10:00:00');
INSERT INTO id_tags (id_tag, user_id, vehicle_id, status, created_at)
    VALUES ('TAG-1', 7, 3, 'Accepted', '2026-01-01 10:00:00');
INSERT INTO chargers (charge_point_id, password_hash, is_connected, created_at)
    VALUES ('CP-35', 'x', FALSE, '2026-01-01 10:00:00');
"""
SITE = """
INSERT INTO sites (id, name, max_current_a, phases, min_current_a, strategy, charger_max_current_a, timezone, created_at)
    VALUES (1, 'Depot', 63, 3, 6, 'equal', 32, 'UTC', '2026-03-01 10:00:00');
INSERT INTO site_chargers (charge_point_id, site_id) VALUES ('CP-35', 1);
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0034_with_a_driver(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0034")
    for statement in EXISTING.strip().split(";\n"):
        connection.execute(text(statement))


def _to_0035(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0035")


def _back_to_0034(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0034")


async def test_an_existing_database_gets_sites_and_everyone_the_same_priority(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0034_with_a_driver)
        async with engine.begin() as connection:
            await connection.run_sync(_to_0035)
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA foreign_keys = ON"))
            priorities = (
                await connection.execute(
                    text(
                        "SELECT t.charging_priority, v.charging_priority FROM id_tags t JOIN vehicles v ON v.id = t.vehicle_id"
                    )
                )
            ).all()
            for statement in SITE.strip().split(";\n"):
                await connection.execute(text(statement))
            await connection.execute(text("DELETE FROM chargers WHERE charge_point_id = 'CP-35'"))
            members = (await connection.execute(text("SELECT count(*) FROM site_chargers"))).scalar_one()
        async with engine.begin() as connection:
            await connection.run_sync(_back_to_0034)
        async with engine.begin() as connection:
            tags = (await connection.execute(text("SELECT id_tag, vehicle_id FROM id_tags"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in priorities] == [(1, 1)]
    assert members == 0
    assert [tuple(row) for row in tags] == [("TAG-1", 3)]
