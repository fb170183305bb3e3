"""Outgoing webhooks: a receiver of the test's own checks signatures, answers 500 once and sees the retry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    settings_for,
    start_server,
    stop_server,
)
from tests.support.waiting import wait_until


@dataclass
class Receiver:
    """Answers 500 to the first `failures` requests, then 200; keeps every request."""

    failures: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    url: str = ""

    async def endpoint(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        self.arrivals.append((time.monotonic(), self.requests[-1][1]))
        if self.failures > 0:
            self.failures -= 1
            return Response(status_code=500)
        return Response(status_code=200)

    def events(self, charge_point_id: str) -> list[dict[str, Any]]:
        found = [json.loads(body) for _headers, body in self.requests]
        return [event for event in found if event.get("charge_point_id") == charge_point_id]


def signature_is_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["x-csms-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["x-csms-signature"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    yield receiver
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def quick(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A node that retries webhooks within tenths of a second and expects a heartbeat every second."""
    path: Path = tmp_path_factory.mktemp("db-webhooks") / "csms.db"
    settings = settings_for(
        f"sqlite+aiosqlite:///{path}",
        webhook_retry_base=0.2,
        webhook_poll_interval=0.1,
        heartbeat_interval=1,
        offline_check_interval=0.2,
    )
    handle, task, running = await start_server(settings)
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def client(quick: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=quick.http_url, timeout=10) as client:
        yield client


async def subscribe(quick: RunningServer, client: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    username, password = await create_account_with_role(quick, "admin")
    staff = bearer(await login_as(client, username, password))
    created = await client.post("/api/admin/webhooks", json={"url": url, "events": events}, headers=staff)
    assert created.status_code == 201, created.text
    return {**created.json(), "staff": staff}


async def test_a_fault_is_posted_signed_and_retried_after_a_500(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.failures = 1
    webhook = await subscribe(quick, client, receiver.url, ["charger_fault"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.status(1, "Faulted", error_code="GroundFailure")
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 2)
    first, retry = [(headers, body) for headers, body in receiver.requests if charge_point_id in body.decode()]
    assert first[1] == retry[1] and first[0]["x-csms-delivery"] == retry[0]["x-csms-delivery"]
    assert all(signature_is_valid(webhook["secret"], headers, body) for headers, body in (first, retry))
    assert not signature_is_valid("another secret", *retry)
    event = json.loads(retry[1])
    assert (event["kind"], event["connector_id"], event["error_code"]) == ("charger_fault", 1, "GroundFailure")
    assert retry[0]["x-csms-event"] == "charger_fault"

    log = (await client.get(f"/api/admin/webhooks/{webhook['id']}/deliveries", headers=webhook["staff"])).json()
    delivery = next(d for d in log if charge_point_id in d["payload"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 2, 200)


async def test_a_delivery_that_keeps_failing_is_retried_with_growing_delays(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.failures = 1000
    webhook = await subscribe(quick, client, receiver.url, ["charger_offline"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD):
        pass
    await wait_until(lambda: len(receiver.events(charge_point_id)) >= 4, within=10)
    times = [at for at, body in receiver.arrivals if charge_point_id in body.decode()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # 0.2 s, 0.4 s, 0.8 s, each up to one poll interval (0.1 s) late
    assert 0.15 < gaps[0] < gaps[1] < gaps[2] and gaps[2] > 2 * gaps[0]
    log = (await client.get(f"/api/admin/webhooks/{webhook['id']}/deliveries", headers=webhook["staff"])).json()
    assert (log[0]["status"], log[0]["last_status_code"], log[0]["last_error"]) == ("pending", 500, "HTTP 500")
    assert log[0]["attempts"] >= 4


async def test_operators_hear_of_a_charger_that_disconnects(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(quick, client, receiver.url, ["charger_offline"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.heartbeat()
    await wait_until(lambda: len(receiver.events(charge_point_id)) == 1)
    assert receiver.events(charge_point_id)[0]["reason"] == "disconnected"


async def test_operators_hear_of_a_connected_charger_that_stops_sending_heartbeats(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(quick, client, receiver.url, ["charger_offline"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD):
        # Three heartbeat intervals (1 s here) of silence, then the periodic check reports it, once.
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 1, within=6)
        await asyncio.sleep(0.5)
        assert [event["reason"] for event in receiver.events(charge_point_id)] == ["no heartbeat"]


async def test_any_message_is_a_sign_of_life_and_each_silence_is_reported_once(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(quick, client, receiver.url, ["charger_offline"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        # Status reports every half second and no Heartbeat for four heartbeat intervals: alive.
        for _ in range(8):
            await charger.status(1, "Available")
            await asyncio.sleep(0.5)
        assert receiver.events(charge_point_id) == []
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 1, within=6)
        # Heard again, then silent again: a second report.
        await charger.status(1, "Available")
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 2, within=6)
    assert [event["reason"] for event in receiver.events(charge_point_id)][:2] == ["no heartbeat"] * 2


async def test_webhooks_refuse_unknown_event_kinds_and_are_listed_without_secrets(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(quick, client, receiver.url, [])
    staff = webhook["staff"]
    bad = await client.post("/api/admin/webhooks", json={"url": receiver.url, "events": ["nope"]}, headers=staff)
    assert bad.status_code == 422
    listed = (await client.get("/api/admin/webhooks", headers=staff)).json()
    assert webhook["id"] in [w["id"] for w in listed] and all("secret" not in w for w in listed)
    assert (await client.delete(f"/api/admin/webhooks/{webhook['id']}", headers=staff)).status_code == 204
    assert (await client.get(f"/api/admin/webhooks/{webhook['id']}/deliveries", headers=staff)).status_code == 404
