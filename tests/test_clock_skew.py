"""Nodes whose own clocks disagree: what the cluster shares is decided on the database's clock.

Two full nodes on one PostgreSQL database and one NATS server; node B's own clock runs 90 s ahead
(CSMS_CLOCK_OFFSET_SECONDS), as a host whose time synchronisation broke would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.certificates import make_ca, make_csr
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    RunningServer,
    bearer,
    create_account_with_role,
    dependency_missing,
    login_as,
    settings_for,
    signup,
    start_server,
    stop_server,
)
from tests.support.waiting import poll, wait_until
from tests.support.webhooks import running_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

SKEW = 90.0
RETRY_BASE = 3.0  # seconds before a failed delivery's first retry
ANSWER_AFTER = 1.0  # the endpoint is slow: time enough for another node to post the same delivery meanwhile


@pytest.fixture
async def skewed_nodes(shared_database: str, tmp_path: Path) -> AsyncIterator[list[RunningServer]]:
    """Node A on true time, node B 90 s ahead; both look for due webhook deliveries ten times a second
    and sign chargers' CSRs with one operator CA."""
    ca_certfile, ca_keyfile = make_ca().write(tmp_path, "operator-ca")
    started = []
    try:
        for offset in (0.0, SKEW):
            settings = settings_for(
                shared_database,
                bus_url=NATS_URL,
                clock_offset_seconds=offset,
                webhook_allow_private_targets=True,
                webhook_poll_interval=0.1,
                webhook_retry_base=RETRY_BASE,
                ca_certfile=str(ca_certfile),
                ca_keyfile=str(ca_keyfile),
            )
            started.append(await start_server(settings))
    except Exception as error:
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    yield [running for _, _, running in started]
    for handle, task, _running in started:
        await stop_server(handle, task)


async def deliveries(api: httpx.AsyncClient, webhook_id: int, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = await api.get(f"/api/admin/webhooks/{webhook_id}/deliveries", headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_a_webhook_delivery_is_posted_once_per_recorded_attempt_by_nodes_90_s_apart(
    skewed_nodes: list[RunningServer],
) -> None:
    node_a, node_b = skewed_nodes
    skew = node_b.app_runtime.clock() - node_a.app_runtime.clock()
    assert skew.total_seconds() > SKEW * 0.9  # the skew is real
    async with (
        running_receiver() as receiver,
        httpx.AsyncClient(base_url=node_a.http_url, timeout=30) as api_a,
        httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as api_b,
    ):
        receiver.answer_after, receiver.fail_each_delivery_once = ANSWER_AFTER, True
        admin = bearer(await login_as(api_a, *await create_account_with_role(node_a, "admin")))
        created = await api_a.post(
            "/api/admin/webhooks", json={"url": receiver.url, "events": ["charger_fault"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        charge_point_id = await node_a.add_charger()
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            for connector_id in range(1, 5):  # four events, each a delivery that fails once
                await charger.status(connector_id, "Faulted", error_code="GroundFailure")
            # Within far less than the skew: a retry scheduled on B's clock would wait 90 s on A's.
            log = await poll(
                lambda: deliveries(api_b, webhook_id, admin),
                lambda found: len(found) == 4 and all(delivery["status"] == "delivered" for delivery in found),
                within=60,
            )
    for delivery in log:
        arrivals = receiver.arrivals_of(delivery["id"])
        # Posted exactly twice (the failure, then its retry), and both posts are in the log.
        assert len(arrivals) == 2, (delivery, arrivals)
        assert (delivery["attempts"], delivery["last_status_code"]) == (2, 200)
        # The retry came when it was due on the database's clock, not at once on B's clock, 90 s ahead.
        assert arrivals[1] - arrivals[0] >= RETRY_BASE, (delivery, arrivals)


async def test_a_signature_timestamp_is_the_database_clocks_whichever_node_posts(
    skewed_nodes: list[RunningServer],
) -> None:
    node_a, node_b = skewed_nodes
    async with (
        running_receiver() as receiver,
        httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as api,
    ):
        admin = bearer(await login_as(api, *await create_account_with_role(node_b, "admin")))
        created = await api.post(
            "/api/admin/webhooks", json={"url": receiver.url, "events": ["charger_fault"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        for node in (node_a, node_b):
            charge_point_id = await node.add_charger()
            async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
                await charger.status(1, "Faulted", error_code="GroundFailure")
                await wait_until(lambda charge_point_id=charge_point_id: len(receiver.events(charge_point_id)) == 1)
    # The database runs on this machine: its clock is this test's, whatever B's own clock says.
    skews = [abs(int(headers["x-csms-timestamp"]) - time.time()) for headers, _body in receiver.requests]
    assert len(skews) == 2 and max(skews) < SKEW / 2, skews


async def test_a_login_on_the_node_ahead_is_accepted_at_once_by_the_node_behind(
    skewed_nodes: list[RunningServer],
) -> None:
    node_a, node_b = skewed_nodes
    async with (
        httpx.AsyncClient(base_url=node_a.http_url, timeout=30) as api_a,
        httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as api_b,
    ):
        tokens = await signup(api_b)  # its token says it was issued 90 s from now on A's clock
        me = await api_a.get("/api/me", headers=bearer(tokens))
    assert me.status_code == 200, me.text


async def test_a_signing_window_opened_on_one_node_holds_on_the_charger_node_90_s_ahead(
    skewed_nodes: list[RunningServer],
) -> None:
    node_a, node_b = skewed_nodes
    charge_point_id = await node_b.add_charger()
    async with (
        httpx.AsyncClient(base_url=node_a.http_url, timeout=30) as api,
        connect_charger(node_b.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
    ):
        admin = bearer(await login_as(api, *await create_account_with_role(node_a, "admin")))
        await charger.boot()
        window = f"/api/admin/chargers/{charge_point_id}/certificates/sign-window"
        opened = await api.post(window, json={"minutes": 1}, headers=admin)
        # Read off A's clock, the window would end 30 s before B's clock says now.
        signed = await charger.sign_certificate(make_csr(charge_point_id)[0])
    assert opened.status_code == 200, opened.text
    assert signed.status == "Accepted"
