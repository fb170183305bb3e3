"""A silent database partition: PostgreSQL's traffic dropped, no reset, as when a firewall starts dropping
packets. Chargers keep their answers (their writes held, as in an outage the node notices), the API answers
503 instead of hanging, and the held writes reach the database once the path is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    USER_PASSWORD,
    RunningServer,
    bearer,
    new_username,
    settings_for,
    signup,
    start_server,
    stop_server,
)
from tests.support.tcp_proxy import CuttableProxy
from tests.support.waiting import poll

pytestmark = pytest.mark.postgres

# Small timeouts, so that a hang is noticed soon; the bounds below are many times what they allow, so a busy
# machine never fails the test, while a node without timeouts (waiting for as long as the partition lasts)
# would.
TIMEOUTS = {"database_connect_timeout": 1.0, "database_command_timeout": 1.0, "database_pool_timeout": 1.0}
# Seconds within which the API must answer during the partition: far beyond the configured timeouts, and
# as far within the simulated charger's own call timeout (30 s), which bounds the chargers' answers.
API_BOUND = 10 * sum(TIMEOUTS.values())


@pytest.fixture
async def node(own_database: str, database_proxy: CuttableProxy) -> AsyncIterator[RunningServer]:
    through_proxy = database_proxy.in_front_of(own_database)
    handle, task, running = await start_server(settings_for(through_proxy, **TIMEOUTS))
    yield running
    database_proxy.heal()  # the node writes what it holds before it stops
    await stop_server(handle, task)


async def test_chargers_are_answered_during_a_silent_partition_and_their_writes_land_after_it(
    node: RunningServer, database_proxy: CuttableProxy
) -> None:
    charge_point_id = await node.add_charger()
    async with (
        httpx.AsyncClient(base_url=node.http_url, timeout=API_BOUND) as app,
        connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
    ):
        tokens = await signup(app)
        transaction_id = (await charger.start_transaction(1, tokens["idTag"], meter_start=0)).transaction_id

        database_proxy.blackhole()
        # Each call fails with the simulator's TimeoutError unless answered within its 30 s call timeout.
        await charger.meter_values(1, transaction_id, 1234)
        assert (await charger.heartbeat()).current_time
        await charger.meter_values(1, transaction_id, 2345)
        stopped = await charger.stop_transaction(transaction_id, 3456, reason="EVDisconnected")
        assert stopped.id_tag_info is None  # answered without the read the idTag's status needs
        assert node.app_runtime.writer.is_holding

        database_proxy.heal()
        record = await poll(
            lambda: _transaction(app, tokens, transaction_id), lambda found: found.get("meter_stop") == 3456
        )
        assert (record["energy_wh"], record["stop_reason"]) == (3456, "EVDisconnected")
        energy = [value["value"] for value in record["meter_values"] if value["measurand"].startswith("Energy")]
        assert energy == ["1234", "2345"]
        await poll(lambda: _ready(app), lambda status: status == 200)
    assert not node.app_runtime.writer.is_holding


async def test_the_api_answers_503_during_a_silent_partition_instead_of_hanging(
    node: RunningServer, database_proxy: CuttableProxy
) -> None:
    username = new_username()
    async with httpx.AsyncClient(base_url=node.http_url, timeout=API_BOUND) as app:
        tokens = await signup(app, username)
        assert (await app.get("/api/me", headers=bearer(tokens))).status_code == 200

        database_proxy.blackhole()
        me = await app.get("/api/me", headers=bearer(tokens))
        assert me.status_code == 503 and "database" in me.json()["detail"]
        login = await app.post("/api/login", json={"username": username, "password": USER_PASSWORD})
        assert login.status_code == 503 and "database" in login.json()["detail"]
        ready = await app.get("/readyz")
        assert ready.status_code == 503 and ready.json()["database"] != "ok"

        database_proxy.heal()
        again = await poll(lambda: app.get("/api/me", headers=bearer(tokens)), lambda answer: answer.status_code == 200)
        assert again.json()["username"] == username


async def _transaction(app: httpx.AsyncClient, tokens: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    response = await app.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))
    return dict(response.json()) if response.status_code == 200 else {}


async def _ready(app: httpx.AsyncClient) -> int:
    return (await app.get("/readyz")).status_code
