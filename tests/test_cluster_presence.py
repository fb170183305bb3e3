"""One owner per charger in a cluster, and presence that holds after crashes, moves and bus cuts.

Nodes on one PostgreSQL database and one NATS server; faults are real: a node killed with SIGKILL
(a `csms serve` process), NATS cut through a proxy the test controls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    RunningServer,
    bearer,
    bus_namespace_for,
    create_account_with_role,
    create_postgres_database,
    dependency_missing,
    drop_postgres_database,
    login_as,
    settings_for,
    start_server,
    stop_server,
)
from tests.support.database_proxy import CuttableProxy
from tests.support.events import live_stream
from tests.support.processes import csms_serve_process
from tests.support.waiting import wait_for_true, wait_until
from tests.support.webhooks import running_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

LEASE = 3.0  # seconds: a dead node's chargers are offline within 4/3 of it
JWT_SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def shared_database() -> Any:
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@contextlib.asynccontextmanager
async def cluster_node(database_url: str, *, bus_url: str = NATS_URL, **overrides: Any) -> AsyncIterator[RunningServer]:
    settings = settings_for(database_url, bus_url=bus_url, ocpp_call_timeout=3, **overrides)
    try:
        handle, task, running = await start_server(settings)
    except Exception as error:
        dependency_missing(f"NATS at {bus_url} ({error})")
        raise
    try:
        yield running
    finally:
        await stop_server(handle, task)


async def admin_headers(node: RunningServer, api: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(api, *await create_account_with_role(node, "admin")))


async def is_connected(api: httpx.AsyncClient, headers: dict[str, str], charge_point_id: str) -> bool:
    response = await api.get(f"/api/admin/chargers/{charge_point_id}", headers=headers)
    assert response.status_code == 200, response.text
    return bool(response.json()["is_connected"])


def is_open(charger: SimulatedCharger) -> bool:
    return charger.websocket.close_code is None


def resets(charger: SimulatedCharger) -> int:
    return sum(1 for received in charger.received if received.action == "Reset")


async def test_a_node_killed_with_sigkill_has_its_chargers_offline_within_the_lease_bound(
    shared_database: str, tmp_path: Path
) -> None:
    async with (
        cluster_node(
            shared_database, presence_lease=LEASE, webhook_allow_private_targets=True, webhook_poll_interval=0.1
        ) as survivor,
        httpx.AsyncClient(base_url=survivor.http_url, timeout=10) as api,
        running_receiver() as receiver,
    ):
        admin = await admin_headers(survivor, api)
        hook = {"url": receiver.url, "events": ["charger_offline"]}
        assert (await api.post("/api/admin/webhooks", json=hook, headers=admin)).status_code == 201
        charge_point_id = await survivor.add_charger()
        tokens = await login_as(api, *await create_account_with_role(survivor, "admin"))
        async with (
            csms_serve_process(
                tmp_path,
                database_url=shared_database,
                bus_url=NATS_URL,
                bus_namespace=bus_namespace_for(shared_database),
                jwt_secret=JWT_SECRET,
                presence_lease=str(LEASE),
                node_role="ocpp",
            ) as doomed,
            live_stream(survivor.http_url, tokens) as stream,
        ):
            async with connect_charger(doomed.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
                await charger.heartbeat()
                assert await is_connected(api, admin, charge_point_id)
                await doomed.kill()
                killed_at = time.monotonic()
                with contextlib.suppress(websockets.ConnectionClosed):
                    await charger.websocket.wait_closed()
            await wait_for_true(lambda: _is_offline(api, admin, charge_point_id), within=4 / 3 * LEASE + 15)
            offline_after = time.monotonic() - killed_at
            await wait_until(lambda: receiver.events(charge_point_id))
            await wait_until(lambda: stream.events("charger_disconnected"))
    # The bound is 4/3 of the lease; the slack is for a busy machine's scheduling, not for the design.
    assert offline_after < 4 / 3 * LEASE + 5, offline_after
    assert [event["kind"] for event in receiver.events(charge_point_id)] == ["charger_offline"]
    assert [event["charge_point_id"] for event in stream.events("charger_disconnected")] == [charge_point_id]


async def _is_offline(api: httpx.AsyncClient, headers: dict[str, str], charge_point_id: str) -> bool:
    return not await is_connected(api, headers, charge_point_id)


async def test_a_charger_moved_from_node_to_node_again_and_again_is_online_where_it_ends(
    shared_database: str,
) -> None:
    async with (
        cluster_node(shared_database) as node_a,
        cluster_node(shared_database) as node_b,
        httpx.AsyncClient(base_url=node_a.http_url, timeout=10) as api,
    ):
        admin = await admin_headers(node_a, api)
        charge_point_id = await node_a.add_charger()
        for _move in range(6):
            async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as on_a:
                await on_a.heartbeat()
                # The charger comes back on node B before node A noticed its old socket is gone.
                async with connect_charger(node_b.ws_url, charge_point_id, CHARGER_PASSWORD) as on_b:
                    await on_b.heartbeat()
                    await wait_until(lambda: node_a.app_runtime.registry.get(charge_point_id) is None)
                    for node in (node_a, node_b):
                        await node.app_runtime.writer.flush()  # what either node had to write is written
                    assert is_open(on_b)
                    assert await is_connected(api, admin, charge_point_id)
            await wait_for_true(lambda: _is_offline(api, admin, charge_point_id))


async def test_connecting_to_two_nodes_at_once_leaves_exactly_one_reachable_socket(shared_database: str) -> None:
    async with (
        cluster_node(shared_database) as node_a,
        cluster_node(shared_database) as node_b,
        cluster_node(shared_database, node_role="api") as node_c,
        httpx.AsyncClient(base_url=node_c.http_url, timeout=10) as api,
    ):
        admin = await admin_headers(node_c, api)
        for _try in range(8):
            charge_point_id = await node_a.add_charger()
            async with contextlib.AsyncExitStack() as stack:
                both = await asyncio.gather(
                    *(
                        stack.enter_async_context(connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD))
                        for node in (node_a, node_b)
                    )
                )
                await wait_until(lambda: not all(is_open(charger) for charger in both))  # noqa: B023
                for node in (node_a, node_b):
                    await node.app_runtime.presence.tick()  # reconciled: nothing else may be closed
                survivors = [charger for charger in both if is_open(charger)]
                assert len(survivors) == 1
                reset = await api.post(
                    f"/api/admin/chargers/{charge_point_id}/ocpp/Reset", json={"type": "Soft"}, headers=admin
                )
                assert reset.status_code == 200, reset.text
                assert [resets(charger) for charger in both].count(1) == 1 and resets(survivors[0]) == 1


async def test_after_a_nats_cut_two_sockets_are_reconciled_and_a_command_runs_once(shared_database: str) -> None:
    nats_port = int(NATS_URL.rsplit(":", 1)[1])
    proxy = CuttableProxy(target_port=nats_port)
    await proxy.start()
    # A long lease: the periodic renewal comes every 20 s, so the quick close below is the reconnect's.
    async with (
        cluster_node(shared_database, bus_url=f"nats://127.0.0.1:{proxy.port}", presence_lease=60) as node_a,
        cluster_node(shared_database, presence_lease=60) as node_b,
        httpx.AsyncClient(base_url=node_a.http_url, timeout=10) as api_a,
        httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as api_b,
    ):
        admin = await admin_headers(node_a, api_a)
        charge_point_id = await node_a.add_charger()
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as old:
            await old.heartbeat()
            await proxy.cut()
            await wait_for_true(lambda: _bus_down(node_a))
            async with connect_charger(node_b.ws_url, charge_point_id, CHARGER_PASSWORD) as new:
                await new.heartbeat()
                await proxy.restore()
                cut_healed_at = time.monotonic()
                await wait_until(lambda: not is_open(old), within=15)
                reconciled_after = time.monotonic() - cut_healed_at
                await wait_for_true(lambda: node_a.app_runtime.bus.is_healthy())
                for api in (api_a, api_b):  # node A reaches the owner over the bus, node B holds it
                    reset = await api.post(
                        f"/api/admin/chargers/{charge_point_id}/ocpp/Reset", json={"type": "Hard"}, headers=admin
                    )
                    assert reset.status_code == 200, reset.text
                assert (resets(old), resets(new)) == (0, 2)
                assert is_open(new)
    await proxy.cut()
    assert old.websocket.close_code == 4000
    assert reconciled_after < 15


async def _bus_down(node: RunningServer) -> bool:
    return not await node.app_runtime.bus.is_healthy()
