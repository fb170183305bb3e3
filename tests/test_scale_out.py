"""Several csms nodes on one PostgreSQL database and one NATS server, as an operator scales out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from csms.config import Settings
from csms.db.models import OcppMessage
from csms.simulator.charger import ChargerBehaviour, connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    Node,
    RunningServer,
    bearer,
    cluster_of,
    create_account_with_role,
    login_as,
    settings_for,
    signup,
    stop_server,
)
from tests.support.events import collect_events, live_stream
from tests.support.waiting import wait_until
from tests.support.webhooks import running_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


def node_settings(database_url: str, role: str) -> Settings:
    return settings_for(database_url, bus_url=NATS_URL, node_role=role, ocpp_call_timeout=3)


@pytest.fixture
async def nodes(shared_database: str) -> AsyncIterator[list[Node]]:
    """Node A serves chargers only, B the API only, C both."""
    async with cluster_of(*(node_settings(shared_database, role) for role in ("ocpp", "api", "all"))) as started:
        yield started


async def test_charger_on_one_node_app_on_another_events_on_a_third(nodes: list[Node]) -> None:
    node_a, node_b, node_c = (running for _, _, running in nodes)
    charge_point_id = await node_a.add_charger()
    events: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as app:
        tokens = await signup(app)
        watcher = asyncio.create_task(collect_events(node_c.http_url, tokens, events))
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.status(1, "Available")
            started = await app.post(
                "/api/start_charging", json={"evse_id": charge_point_id, "connector_id": 1}, headers=bearer(tokens)
            )
            assert started.json() == {"status": "Accepted"}
            assert (await charger.wait_for_call("RemoteStartTransaction")).payload["id_tag"] == tokens["idTag"]
            transaction = await charger.start_transaction(1, tokens["idTag"], meter_start=0)
            await charger.meter_values(1, transaction.transaction_id, 4200)
            stopped = await app.post(
                "/api/stop_charging", json={"transaction_id": transaction.transaction_id}, headers=bearer(tokens)
            )
            assert stopped.json() == {"status": "Accepted"}
            await charger.stop_transaction(transaction.transaction_id, 5000)
            await wait_until(lambda: any(e["event"] == "transaction_stopped" for e in events))
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    kinds = [e["event"] for e in events]
    assert kinds.index("transaction_started") < kinds.index("meter_values") < kinds.index("transaction_stopped")
    meter = next(e for e in events if e["event"] == "meter_values")
    assert (meter["energy_wh"], meter["charge_point_id"]) == (4200, charge_point_id)
    assert next(e for e in events if e["event"] == "transaction_stopped")["energy_wh"] == 5000


async def test_a_charger_connected_nowhere_is_409_at_once_from_any_node(nodes: list[Node]) -> None:
    node_a, node_b, _ = (running for _, _, running in nodes)
    charge_point_id = await node_a.add_charger()
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as app:
        tokens = await signup(app)
        response = await asyncio.wait_for(
            app.post(
                "/api/start_charging", json={"evse_id": charge_point_id, "connector_id": 1}, headers=bearer(tokens)
            ),
            1.5,
        )
    assert response.status_code == 409 and "not connected" in response.json()["detail"]


async def test_reconnecting_on_another_node_closes_the_old_socket(nodes: list[Node]) -> None:
    node_a, _, node_c = (running for _, _, running in nodes)
    charge_point_id = await node_a.add_charger()
    async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as old:
        await old.heartbeat()
        async with connect_charger(node_c.ws_url, charge_point_id, CHARGER_PASSWORD) as new:
            await asyncio.wait_for(old._connection.wait_closed(), 5)
            assert old._connection.close_code == 4000
            assert (await new.heartbeat()).current_time
    assert node_a.app_runtime.registry.get(charge_point_id) is None


async def test_a_node_stopped_mid_session_loses_no_transaction(nodes: list[Node]) -> None:
    (handle_a, task_a, node_a), (_, _, node_b), (_, _, node_c) = nodes
    charge_point_id = await node_a.add_charger()
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as app:
        tokens = await signup(app)
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            transaction_id = (await charger.start_transaction(1, tokens["idTag"], meter_start=100)).transaction_id
            await charger.meter_values(1, transaction_id, 900)
            await stop_server(handle_a, task_a)
        async with connect_charger(node_c.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.meter_values(1, transaction_id, 1500)
            await charger.stop_transaction(transaction_id, 1700, reason="EVDisconnected")
        record = (await app.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))).json()
    assert (record["meter_start"], record["meter_stop"], record["energy_wh"]) == (100, 1700, 1600)
    energy = [v["value"] for v in record["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert energy == ["900", "1500"]


async def test_a_tag_blocked_through_one_node_is_blocked_at_once_on_the_node_that_remembers_it(
    nodes: list[Node],
) -> None:
    node_a, node_b, _ = (running for _, _, running in nodes)
    charge_point_id = await node_a.add_charger()
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as app:
        tokens = await signup(app)
        admin = bearer(await login_as(app, (await create_account_with_role(node_b, "admin"))[0]))
        me = (await app.get("/api/me", headers=bearer(tokens))).json()
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            assert (await charger.authorize(tokens["idTag"])).id_tag_info["status"] == "Accepted"
            blocked = await app.patch(f"/api/admin/users/{me['id']}", json={"is_active": False}, headers=admin)
            assert blocked.status_code == 200
            answers: list[str] = []

            async def blocked_on_node_a() -> bool:
                answers.append((await charger.authorize(tokens["idTag"])).id_tag_info["status"])
                return answers[-1] == "Blocked"

            async with asyncio.timeout(2):  # the bus carries the change in milliseconds
                while not await blocked_on_node_a():  # noqa: ASYNC110 (the change arrives over NATS, not an Event)
                    await asyncio.sleep(0.02)


async def test_calls_through_the_bus_to_a_silent_charger_fail_in_time_and_none_is_sent_later(nodes: list[Node]) -> None:
    node_a, node_b, _ = (running for _, _, running in nodes)
    timeout = node_b.app_runtime.settings.ocpp_call_timeout
    charge_point_id = await node_a.add_charger()
    behaviour = ChargerBehaviour(answer_delay=20 * timeout)  # never answers while the test runs
    body = {"evse_id": charge_point_id, "connector_id": 1}
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=20) as app:
        drivers = [bearer(await signup(app)) for _ in range(4)]

        async def start(headers: dict[str, str]) -> tuple[int, float]:
            started = time.monotonic()
            response = await app.post("/api/start_charging", json=body, headers=headers)
            return response.status_code, time.monotonic() - started

        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour) as charger:
            await charger.status(1, "Available")
            answers = await asyncio.gather(*(start(headers) for headers in drivers))
            sent_when_answered = await remote_starts_sent(node_a, charge_point_id)
            await asyncio.sleep(timeout + 1)  # the calls queued on node A would have gone out by now
            sent_later = await remote_starts_sent(node_a, charge_point_id)
    assert [status for status, _ in answers] == [504] * 4
    assert all(seconds < 2 * timeout for _, seconds in answers), answers
    # Before, node A kept the queued calls after node B had answered 504, and sent them one by one.
    assert sent_later == sent_when_answered


async def remote_starts_sent(node: RunningServer, charge_point_id: str) -> int:
    await node.flush_message_log()
    query = select(func.count()).where(
        OcppMessage.charge_point_id == charge_point_id,
        OcppMessage.direction == "out",
        OcppMessage.action == "RemoteStartTransaction",
    )
    async with node.session() as session:
        return int(await session.scalar(query) or 0)


async def test_blocking_an_account_through_one_node_ends_its_stream_on_another(nodes: list[Node]) -> None:
    _node_a, node_b, node_c = (running for _, _, running in nodes)
    async with httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as api:
        admin = bearer(await login_as(api, *await create_account_with_role(node_b, "admin")))
        tokens = await signup(api)
        user_id = (await api.get("/api/me", headers=bearer(tokens))).json()["id"]
        async with live_stream(node_c.http_url, tokens) as stream:
            blocked = await api.patch(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=admin)
            assert blocked.status_code == 200
            # Node C remembers the login for 30 s and sends its first keep-alive after 15 s: only the
            # announcement over NATS can end the stream this soon.
            await wait_until(lambda: stream.ended, within=10)
    # Blocking also ends the account's sessions; the stream may notice either first.
    assert [event["reason"] for event in stream.events("stream_ended")] in (
        ["this account is blocked"],
        ["this session has ended; log in again"],
    )


@pytest.fixture
async def webhook_nodes(shared_database: str) -> AsyncIterator[list[RunningServer]]:
    """Two full nodes that look for due webhook deliveries ten times a second and may post to loopback."""
    settings = settings_for(
        shared_database,
        bus_url=NATS_URL,
        webhook_allow_private_targets=True,
        webhook_poll_interval=0.1,
        webhook_retry_base=0.2,
    )
    async with cluster_of(settings, settings) as started:
        yield [running for _, _, running in started]


async def test_a_webhook_gets_its_events_one_at_a_time_in_order_from_two_nodes(
    webhook_nodes: list[RunningServer],
) -> None:
    first, _second = webhook_nodes
    async with (
        running_receiver() as receiver,
        httpx.AsyncClient(base_url=first.http_url, timeout=10) as api,
    ):
        receiver.answer_after = 0.2  # long enough for the other node to try the next delivery meanwhile
        admin = bearer(await login_as(api, *await create_account_with_role(first, "admin")))
        created = await api.post(
            "/api/admin/webhooks", json={"url": receiver.url, "events": ["charger_fault"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        charge_point_id = await first.add_charger()
        async with connect_charger(first.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            for connector_id in range(1, 7):
                await charger.status(connector_id, "Faulted", error_code="GroundFailure")
            await wait_until(lambda: len(receiver.events(charge_point_id)) == 6)
    delivery_ids = [int(headers["x-csms-delivery"]) for headers, _body in receiver.requests]
    assert delivery_ids == sorted(delivery_ids) and len(set(delivery_ids)) == 6
    assert receiver.most_busy == 1
