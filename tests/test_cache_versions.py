"""The change counters of node caches (cache_versions): migration 0019 adds them to an existing database,
on SQLite and PostgreSQL, and each kind of change moves its own counter in its own commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection, select, text

from csms.db.engine import create_engine
from csms.db.migrate import alembic_config, upgrade_to_head
from csms.db.models import CacheVersion
from tests.conftest import (
    BACKENDS,
    RunningServer,
    bearer,
    create_account_with_role,
    fresh_database,
    login_as,
    new_username,
    signup,
)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def _to_0018_with_a_user(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0018")
    connection.execute(
        text(
            "INSERT INTO users (username, password_hash, role, is_active, created_at) "
            "VALUES ('old-user', 'x', 'user', TRUE, '2026-01-01 10:00:00')"
        )
    )


async def test_an_existing_database_gets_a_counter_per_cache_kind_and_keeps_its_rows(database: str) -> None:
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0018_with_a_user)
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            versions = dict((await connection.execute(text("SELECT kind, version FROM cache_versions"))).all())
            users = (await connection.execute(text("SELECT username FROM users"))).scalars().all()
    finally:
        await engine.dispose()
    assert versions == {"tags": 0, "logins": 0, "tariffs": 0, "webhooks": 0, "ocpi_tokens": 0}
    assert users == ["old-user"]


async def counters(node: RunningServer) -> dict[str, int]:
    async with node.session() as session:
        return dict((await session.execute(select(CacheVersion.kind, CacheVersion.version))).all())


async def test_each_kind_of_change_moves_its_own_counter_and_a_login_moves_none(server: RunningServer) -> None:
    username = new_username()
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as api:
        admin = bearer(await login_as(api, (await create_account_with_role(server, "admin"))[0]))

        async def block() -> None:
            found = (await api.get("/api/admin/users", params={"q": username}, headers=admin)).json()
            user_id = next(user["id"] for user in found if user["username"] == username)
            assert (await api.patch(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=admin)).is_success

        async def add_tariff() -> None:
            tariff = {"name": "Fee", "currency": "EUR", "session_fee": "1.00"}
            assert (await api.post("/api/admin/tariffs", json=tariff, headers=admin)).is_success

        async def add_webhook() -> None:
            webhook = {"url": "https://93.184.215.14/csms", "events": ["charging_finished"]}  # public, no lookup
            assert (await api.post("/api/admin/webhooks", json=webhook, headers=admin)).is_success

        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("signup", lambda: signup(api, username)),
            ("login", lambda: login_as(api, username)),
            ("block", block),
            ("tariff", add_tariff),
            ("webhook", add_webhook),
        ]
        moved: dict[str, set[str]] = {}
        for step, act in steps:
            before = await counters(server)
            await act()
            after = await counters(server)
            moved[step] = {kind for kind in after if after[kind] != before[kind]}
    assert moved == {
        "signup": {"tags"},  # a new idTag: a node may remember it as unknown
        "login": set(),
        "block": {"tags", "logins"},  # its tags answer Blocked, its logins end
        "tariff": {"tariffs"},
        "webhook": {"webhooks"},
    }
