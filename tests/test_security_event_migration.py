"""Migration 0014 upgrades security events in place, on SQLite and PostgreSQL: each existing event counts
as recorded when it was created, and new events get a recording time even from an older csms's journal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Connection, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, fresh_database

EVENTS = """
INSERT INTO security_events (source, kind, charge_point_id, count, created_at)
    VALUES ('charger', 'InvalidFirmwareSignature', 'CP-OLD', 1, '2001-01-01 00:00:00'),
           ('csms', 'charger_auth_refused', 'CP-OLD', 3, '2026-06-01 12:00:00');
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0013_with_events(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0013")
    connection.execute(text(EVENTS))


async def test_existing_events_are_recorded_when_created_and_rows_without_the_column_get_one(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0013_with_events)
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            # What a write journal held by an older csms replays: an insert that does not name the column.
            await connection.execute(
                text(
                    "INSERT INTO security_events (source, kind, count, created_at)"
                    " VALUES ('csms', 'x', 1, '2026-06-02 12:00:00')"
                )
            )
        async with engine.connect() as connection:
            query = "SELECT kind, created_at = recorded_at, recorded_at IS NOT NULL FROM security_events ORDER BY id"
            rows = [tuple(row) for row in (await connection.execute(text(query))).all()]
    finally:
        await engine.dispose()
    assert rows == [("InvalidFirmwareSignature", True, True), ("charger_auth_refused", True, True), ("x", False, True)]
