"""Attacks on the charger side and the operator side: throttling, limits, logs, headers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from csms.simulator.charger import basic_auth_header
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    new_charger_id,
    settings_for,
    start_server,
    stop_server,
)
from tests.operating import connect_status
from tests.support.waiting import wait_for_true

SECURITY_EVENT_PERIOD = 2.0


def periods_within(started: float) -> int:
    """How many periods of counted security events the time since `started` can touch, at most."""
    return int((time.monotonic() - started) / SECURITY_EVENT_PERIOD) + 2


@pytest.fixture
async def strict_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A node of its own with low limits, so tripping them cannot disturb other tests."""
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        charger_auth_failures_per_id=3,
        charger_auth_failures_per_address=6,
        ocpp_message_rate=0.25,  # one frame back every 4 s: a slow machine cannot refill the budget mid-test
        ocpp_message_burst=5,
        security_event_period=SECURITY_EVENT_PERIOD,
    )
    handle, task, running = await start_server(settings)
    yield running
    await stop_server(handle, task)


async def security_events(server: RunningServer, http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    await server.app_runtime.writer.flush()
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    events: list[dict[str, Any]] = (await http.get("/api/admin/security_events", params=params, headers=admin)).json()
    return events


async def test_failed_charger_logins_are_throttled_even_with_the_right_password_afterwards(
    strict_server: RunningServer,
) -> None:
    charge_point_id = await strict_server.add_charger()
    statuses = [await connect_status(strict_server, charge_point_id, "guessing-password-0") for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert await connect_status(strict_server, charge_point_id, CHARGER_PASSWORD) == 429


async def test_scanning_many_charger_ids_from_one_address_is_throttled(strict_server: RunningServer) -> None:
    statuses = [await connect_status(strict_server, new_charger_id(), CHARGER_PASSWORD) for _ in range(6)]
    assert statuses == [404] * 6
    real = await strict_server.add_charger()
    assert await connect_status(strict_server, real, CHARGER_PASSWORD) == 429


async def test_each_refused_connection_leaves_a_security_event(server: RunningServer, http: httpx.AsyncClient) -> None:
    charge_point_id = await server.add_charger()
    assert await connect_status(server, charge_point_id, "wrong-password-here") == 401
    events = await security_events(server, http, charge_point_id=charge_point_id)
    assert [(e["kind"], e["remote_address"], e["detail"]) for e in events] == [
        ("charger_auth_refused", "127.0.0.1", "wrong password")
    ]
    assert "wrong-password-here" not in json.dumps(events)


async def counted_security_events(server: RunningServer, *, attempts: int) -> list[dict[str, Any]]:
    """The node's security events, once their counts add up to `attempts` (repeats are written per period)."""
    events: list[dict[str, Any]] = []

    async def all_counted() -> bool:
        events[:] = await security_events(server, http)
        return sum(event["count"] for event in events) >= attempts

    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        await wait_for_true(all_counted)
    return events


async def test_a_burst_of_refused_attempts_on_one_charger_is_kept_as_a_few_counted_events(
    strict_server: RunningServer,
) -> None:
    charge_point_id = await strict_server.add_charger()
    started = time.monotonic()
    statuses = [await connect_status(strict_server, charge_point_id, "guessing-password-0") for _ in range(30)]
    assert statuses == [401] * 3 + [429] * 27
    periods = periods_within(started)
    events = await counted_security_events(strict_server, attempts=30)
    # Per period and kind: the first attempt at once, its repeats in one more row.
    assert len(events) <= 2 * 2 * periods < 30, events
    counts = {kind: sum(e["count"] for e in events if e["kind"] == kind) for kind in {e["kind"] for e in events}}
    assert counts == {"charger_auth_refused": 3, "charger_auth_throttled": 27}
    assert {e["charge_point_id"] for e in events} == {charge_point_id}


async def test_a_scan_of_many_charger_ids_from_one_address_is_kept_as_a_bounded_number_of_events(
    strict_server: RunningServer,
) -> None:
    started = time.monotonic()
    statuses = [await connect_status(strict_server, new_charger_id(), CHARGER_PASSWORD) for _ in range(100)]
    assert statuses == [404] * 6 + [429] * 94
    periods = periods_within(started)
    events = await counted_security_events(strict_server, attempts=100)
    # The six refused ids, and per period 10 throttled ids of their own plus one row (and its repeats) for the rest.
    assert len(events) <= 6 + 12 * periods < 100, len(events)
    assert all(e["remote_address"] == "127.0.0.1" for e in events)


async def test_a_charger_sending_too_fast_gets_security_errors_and_keeps_its_connection(
    strict_server: RunningServer,
) -> None:
    charge_point_id = await strict_server.add_charger()
    headers = {"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)}
    async with websockets.connect(
        f"{strict_server.ws_url}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=headers,
    ) as websocket:
        for index in range(8):  # all at once, as a misbehaving charger sends them
            await websocket.send(f'[2, "hb-{index}", "Heartbeat", {{}}]')
        answers = [json.loads(await asyncio.wait_for(websocket.recv(), 20)) for _ in range(8)]
        assert [answer[0] for answer in answers] == [3] * 5 + [4] * 3
        assert {answer[2] for answer in answers[5:]} == {"SecurityError"}
        await asyncio.sleep(4.1)  # the budget gives one frame back every 4 s
        await websocket.send('[2, "after-pause", "Heartbeat", {}]')
        assert json.loads(await asyncio.wait_for(websocket.recv(), 5))[0] == 3


async def test_operator_changes_are_in_the_audit_log_with_who_and_from_where(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    charge_point_id = new_charger_id()
    created = await http.post(
        "/api/admin/chargers", json={"charge_point_id": charge_point_id, "password": CHARGER_PASSWORD}, headers=admin
    )
    refused = await http.post(
        "/api/admin/chargers", json={"charge_point_id": charge_point_id, "password": "x"}, headers=admin
    )
    await http.get("/api/admin/chargers", headers=admin)
    await server.app_runtime.writer.flush()
    log = (await http.get("/api/admin/audit_log", headers=admin)).json()
    mine = [e for e in log if e["username"] == username]
    assert [(e["method"], e["path"], e["status_code"]) for e in mine] == [
        ("POST", "/api/admin/chargers", refused.status_code),
        ("POST", "/api/admin/chargers", created.status_code),
    ]
    assert mine[0]["remote_address"] == "127.0.0.1" and mine[0]["role"] == "admin"


async def test_admin_requests_without_a_login_are_counted_not_each_written_to_the_audit_log(
    strict_server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=strict_server.http_url, timeout=10) as http:
        started = time.monotonic()
        for index in range(30):
            body = {"charge_point_id": f"CP-{index}", "password": CHARGER_PASSWORD}
            assert (await http.post("/api/admin/chargers", json=body)).status_code == 401
        periods = periods_within(started)
        events = await counted_security_events(strict_server, attempts=30)
        admin = bearer(await login_as(http, (await create_account_with_role(strict_server, "admin"))[0]))
        log = (await http.get("/api/admin/audit_log", headers=admin)).json()
    assert log == []
    assert len(events) <= 2 * periods < 30 and {e["kind"] for e in events} == {"admin_request_unauthenticated"}
    assert events[0]["detail"] == "POST /api/admin/chargers answered 401"


async def test_answers_carry_security_headers_and_no_cors_by_default(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz", headers={"Origin": "https://evil.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}", cors_origins=["https://app.example"])
    handle, task, running = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=running.http_url) as client:
            allowed = await client.get("/healthz", headers={"Origin": "https://app.example"})
            other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    finally:
        await stop_server(handle, task)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers
