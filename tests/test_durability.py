"""Durability: writes held during a database outage outlive a killed node, and a node notices when its
database file is deleted or replaced under it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from csms.db.engine import create_engine, create_session_factory
from csms.services import chargers
from csms.services.clock import utc_now
from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    new_charger_id,
    settings_for,
    signup,
    start_server,
    stop_server,
)
from tests.support.database_proxy import CuttableProxy
from tests.support.processes import CSMS, START_DEADLINE_SECONDS, free_port
from tests.support.waiting import wait_for_true


class NodeProcess:
    """`csms serve` as an operator runs it, in a process of its own that the test can kill."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with (self.workdir / "node.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                CSMS, "serve", "--port", str(self.port), env=self.env, cwd=self.workdir, stdout=log, stderr=log
            )
        async with httpx.AsyncClient(base_url=self.http_url, timeout=2) as client:
            # The proxy lives in this event loop: wait without blocking it.
            await wait_for_true(lambda: self._is_ready(client), within=START_DEADLINE_SECONDS)

    async def _is_ready(self, client: httpx.AsyncClient) -> bool:
        if self.process is None or self.process.returncode is not None:
            pytest.fail(f"csms serve exited: {(self.workdir / 'node.log').read_text()[-3000:]}")
        try:
            return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed, as when the machine loses power."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), 15)
            self.process = None


async def register_charger(database_url: str) -> str:
    charge_point_id = new_charger_id()
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            await chargers.register_charger(
                session, charge_point_id=charge_point_id, password=CHARGER_PASSWORD, now=utc_now()
            )
    finally:
        await engine.dispose()
    return charge_point_id


async def transaction(app: httpx.AsyncClient, tokens: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    response = await app.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def energy_readings(record: dict[str, Any]) -> list[str]:
    return [value["value"] for value in record["meter_values"] if value["measurand"].startswith("Energy")]


@pytest.mark.postgres
async def test_writes_acknowledged_during_an_outage_outlive_a_killed_node(
    own_database: str, database_proxy: CuttableProxy, tmp_path: Path
) -> None:
    through_proxy = database_proxy.in_front_of(own_database)
    files = tmp_path / "files"
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": through_proxy,
        "CSMS_FILES_DIR": str(files),
        "CSMS_JWT_SECRET": "durability-test-secret-" + "x" * 40,
    }
    node = NodeProcess(env, tmp_path)
    await node.start()
    try:
        charge_point_id = await register_charger(own_database)
        async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as app:
            tokens = await signup(app)
            async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
                first = (await charger.start_transaction(1, tokens["idTag"], meter_start=0)).transaction_id
                await database_proxy.cut()
                await charger.status(1, "SuspendedEV")
                await charger.meter_values(1, first, 4321)
                await charger.stop_transaction(first, 5000, reason="EVDisconnected")
                # Started and stopped during the outage: the stop must not run before the start.
                second = (await charger.start_transaction(2, tokens["idTag"], meter_start=100)).transaction_id
                await charger.stop_transaction(second, 900, reason="Local")
                await node.kill()
    finally:
        await node.kill()
    journal = files / "held-writes"
    assert journal.stat().st_size > 0
    with journal.open("ab") as torn:  # a crash in the middle of the next append
        torn.write(b'1badc0de [[["transaction.close",[{"transaction"')

    await database_proxy.start()
    await node.start()
    try:
        async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as app:
            ended = await transaction(app, tokens, first)
            assert (ended["meter_stop"], ended["stop_reason"], energy_readings(ended)) == (
                5000,
                "EVDisconnected",
                ["4321"],
            )
            started_away = await transaction(app, tokens, second)
            assert (started_away["connector_id"], started_away["meter_stop"], started_away["energy_wh"]) == (
                2,
                900,
                800,
            )
        database = await asyncpg.connect(own_database.replace("postgresql+asyncpg", "postgresql"))
        try:
            statuses = await database.fetch(
                "SELECT status FROM status_notifications WHERE charge_point_id = $1", charge_point_id
            )
        finally:
            await database.close()
        assert [row["status"] for row in statuses] == ["SuspendedEV"]
        assert journal.stat().st_size == 0  # applied once: the next start does not repeat them
    finally:
        await node.kill()


@pytest.fixture
async def sqlite_node(tmp_path: Path) -> AsyncIterator[RunningServer]:
    handle, task, node = await start_server(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    yield node
    await stop_server(handle, task)


async def test_a_deleted_database_file_makes_the_node_unready_and_holds_chargers_writes(
    sqlite_node: RunningServer, tmp_path: Path
) -> None:
    database, aside = tmp_path / "csms.db", tmp_path / "aside.db"
    charge_point_id = await sqlite_node.add_charger()
    async with (
        httpx.AsyncClient(base_url=sqlite_node.http_url, timeout=10) as app,
        connect_charger(sqlite_node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
    ):
        tokens = await signup(app)
        transaction_id = (await charger.start_transaction(1, tokens["idTag"], meter_start=0)).transaction_id
        database.rename(aside)

        ready = await app.get("/readyz")
        assert (ready.status_code, ready.json()["database"]) == (503, "missing")
        assert (await app.get("/api/transactions", headers=bearer(tokens))).status_code == 503
        await charger.meter_values(1, transaction_id, 1234)
        assert sqlite_node.app_runtime.writer.is_holding
        assert (tmp_path / "csms.db-held-writes").stat().st_size > 0

        aside.rename(database)  # the same file back: the held writes go into it

        async def is_written() -> bool:
            response = await app.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))
            return response.status_code == 200 and response.json()["energy_wh"] == 1234

        await wait_for_true(is_written)
        assert (await app.get("/readyz")).json()["database"] == "ok"
        assert (tmp_path / "csms.db-held-writes").stat().st_size == 0


async def test_a_replaced_database_file_makes_the_node_unready(sqlite_node: RunningServer, tmp_path: Path) -> None:
    database, copy = tmp_path / "csms.db", tmp_path / "copy.db"
    shutil.copyfile(database, copy)
    copy.replace(database)
    async with httpx.AsyncClient(base_url=sqlite_node.http_url, timeout=10) as app:
        ready = await app.get("/readyz")
    assert (ready.status_code, ready.json()["database"]) == (503, "replaced")


async def test_nodes_sharing_a_journal_path_each_take_a_journal_of_their_own(tmp_path: Path) -> None:
    journal = tmp_path / "held-writes"
    nodes = []
    for name in ("first", "second"):
        settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / name}.db", held_writes_journal=str(journal))
        nodes.append(await start_server(settings))
    try:
        assert journal.exists() and journal.with_name("held-writes.1").exists()
    finally:
        for handle, task, _node in nodes:
            await stop_server(handle, task)
