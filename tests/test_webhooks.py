"""Outgoing webhooks: a receiver of the test's own checks signatures, answers 500 once and sees the retry;
slow receivers delay only their own events; non-public targets are refused unless an operator allows them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    node_with,
    signup,
)
from tests.support.either_version import VERSIONS, connect_either
from tests.support.waiting import poll, wait_until
from tests.support.webhooks import Receiver, running_receiver


def signature_is_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["x-csms-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["x-csms-signature"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def quick(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A node that retries webhooks within tenths of a second and expects a heartbeat every second.

    Its webhooks may post to loopback addresses (the receivers here), and endpoints have a minute to answer.
    """
    async with node_with(
        tmp_path_factory.mktemp("db-webhooks"),
        webhook_allow_private_targets=True,
        webhook_timeout=60,
        webhook_retry_base=0.2,
        webhook_poll_interval=0.1,
        heartbeat_interval=1,
        offline_check_interval=0.2,
    ) as running:
        yield running


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


async def delivery_of(client: httpx.AsyncClient, webhook: dict[str, Any], charge_point_id: str) -> dict[str, Any]:
    """The webhook's delivery of an event about this charger from the delivery log ({} while there is none)."""
    path = f"/api/admin/webhooks/{webhook['id']}/deliveries"
    log = (await client.get(path, headers=webhook["staff"])).json()
    delivery: dict[str, Any] = next((entry for entry in log if charge_point_id in entry["payload"]), {})
    return delivery


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

    # csms records an attempt once the receiver has answered it: the log may lag the receiver a little.
    fetch = functools.partial(delivery_of, client, webhook, charge_point_id)
    delivery = await poll(fetch, until=lambda delivery: delivery.get("attempts") == 2)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 2, 200)


@pytest.mark.parametrize("version", VERSIONS)
async def test_operators_hear_of_a_fault_and_of_a_finished_session_in_either_version(
    version: str, quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(quick, client, receiver.url, ["charger_fault", "charging_finished"])
    charger_id = await quick.add_charger()
    tokens = await signup(client)
    async with connect_either(version, quick.ws_url, charger_id) as charger:
        await charger.boot_and_report(1)
        started = await client.post(
            "/api/start_charging", json={"evse_id": charger_id, "connector_id": 1}, headers=bearer(tokens)
        )
        assert started.json() == {"status": "Accepted"}, started.text
        asked = await charger.start_asked()
        await charger.start(asked, meter_wh=0, at="2026-03-02T10:00:00Z")
        await charger.stop(4_000, at="2026-03-02T11:00:00Z")
        await charger.report(1, "Faulted")
        await wait_until(lambda: {event["kind"] for event in receiver.events(charger_id)} >= {"charger_fault"})

    await wait_until(lambda: len(receiver.events(charger_id)) == 2)
    by_kind = {event["kind"]: event for event in receiver.events(charger_id)}
    assert by_kind.keys() == {"charger_fault", "charging_finished"}
    assert (by_kind["charger_fault"]["connector_id"], by_kind["charger_fault"]["status"]) == (1, "Faulted")
    assert (by_kind["charging_finished"]["energy_wh"], by_kind["charging_finished"]["closed_by"]) == (4_000, "charger")


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
    # Retries are due 0.2 s, 0.4 s, 0.8 s after each failure. A busy machine can only make them later, so
    # each gap is at least its delay (less a little clock granularity), and a constant delay falls short.
    for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=False):
        assert gap > delay - 0.05, (gaps, delay)
    fetch = functools.partial(delivery_of, client, webhook, charge_point_id)
    delivery = await poll(fetch, until=lambda delivery: delivery.get("attempts", 0) >= 4)
    assert (delivery["status"], delivery["last_status_code"], delivery["last_error"]) == ("pending", 500, "HTTP 500")


async def test_a_delivery_in_flight_when_csms_stops_is_posted_at_once_after_its_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    # The post is claimed for the endpoint's minute and a margin, so that a node that dies mid-request does not
    # post it twice at once; a node that stops gives its claim back.
    settings: dict[str, Any] = {
        "webhook_allow_private_targets": True,
        "webhook_timeout": 60,
        "webhook_poll_interval": 0.1,
    }
    receiver.released.clear()  # the first post hangs until csms has stopped
    async with node_with(tmp_path, **settings) as node, httpx.AsyncClient(base_url=node.http_url) as client:
        await subscribe(node, client, receiver.url, ["charger_fault"])
        charge_point_id = await node.add_charger()
        async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.status(1, "Faulted", error_code="GroundFailure")
            await wait_until(lambda: receiver.busy == 1, within=20)
    receiver.released.set()
    async with node_with(tmp_path, **settings):
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 2, within=20)
    (first, again) = receiver.events(charge_point_id)
    assert first == again and first["kind"] == "charger_fault"


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


async def test_the_event_kinds_a_webhook_may_subscribe_to_are_listed(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    staff = (await subscribe(quick, client, receiver.url, []))["staff"]
    kinds = (await client.get("/api/admin/webhooks/event_kinds", headers=staff)).json()
    assert {"charger_fault", "charger_offline", "charging_finished"} <= set(kinds) and kinds == sorted(kinds)
    every = await client.post("/api/admin/webhooks", json={"url": receiver.url, "events": kinds}, headers=staff)
    assert every.status_code == 201 and every.json()["events"] == kinds


# -- each webhook on its own --------------------------------------------------------------------


async def test_endpoints_that_hang_do_not_delay_a_healthy_webhook(
    quick: RunningServer, client: httpx.AsyncClient
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        hanging = [await stack.enter_async_context(running_receiver()) for _ in range(4)]
        healthy = await stack.enter_async_context(running_receiver())
        for slow in hanging:
            slow.released.clear()
            await subscribe(quick, client, slow.url, ["charger_fault"])  # older webhooks: their deliveries come first
        await subscribe(quick, client, healthy.url, ["charger_fault"])
        charge_point_id = await quick.add_charger()
        async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.status(1, "Faulted", error_code="GroundFailure")
            # The hanging endpoints have a minute each (webhook_timeout): one after another, the healthy
            # webhook would wait four minutes. Side by side, all five requests are out at once.
            await wait_until(lambda: len(healthy.events(charge_point_id)) == 1, within=30)
            await wait_until(lambda: all(len(slow.events(charge_point_id)) == 1 for slow in hanging), within=30)
        assert all(slow.busy == 1 for slow in hanging)


async def test_one_webhook_gets_its_events_one_at_a_time_oldest_first(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answer_after = 0.2
    await subscribe(quick, client, receiver.url, ["charger_fault"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        for connector_id in (1, 2, 3, 4):
            await charger.status(connector_id, "Faulted", error_code="GroundFailure")
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 4, within=20)
    delivery_ids = [int(headers["x-csms-delivery"]) for headers, _body in receiver.requests]
    assert delivery_ids == sorted(delivery_ids) and receiver.most_busy == 1


# -- where webhooks may post ------------------------------------------------------------------------


NON_PUBLIC_URLS = [
    ("http://127.0.0.2:8000/hook", "loopback"),
    ("http://localhost:8000/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 as one number
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:10.1.2.3]/hook", "private"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("https://192.168.1.10/hook", "private"),
    ("http://[fc00::1]/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://0.0.0.0:8000/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://100.64.0.1/hook", "non-global"),
    ("http://224.0.0.1/hook", "multicast"),
]


@pytest.mark.parametrize(("url", "kind"), NON_PUBLIC_URLS, ids=[url for url, _kind in NON_PUBLIC_URLS])
async def test_webhooks_to_non_public_addresses_are_refused_by_default(
    sqlite_server: RunningServer, api: httpx.AsyncClient, url: str, kind: str
) -> None:
    staff = bearer(await login_as(api, *await create_account_with_role(sqlite_server, "admin")))
    response = await api.post("/api/admin/webhooks", json={"url": url, "events": []}, headers=staff)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"a {kind} address" in detail and "CSMS_WEBHOOK_ALLOW_PRIVATE_TARGETS" in detail
    assert url not in [webhook["url"] for webhook in (await api.get("/api/admin/webhooks", headers=staff)).json()]


async def test_a_webhook_to_csms_itself_is_refused_by_default(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    staff = bearer(await login_as(api, *await create_account_with_role(sqlite_server, "admin")))
    own = f"{sqlite_server.app_runtime.settings.public_url}/api/admin/users"
    response = await api.post("/api/admin/webhooks", json={"url": own}, headers=staff)
    assert response.status_code == 422 and "is csms itself" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://files.example.com/hook", "http:// or https://"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
        ("http://hooks.example.com:abc/hook", "malformed"),
        ("http://hooks.example.com:99999/hook", "port"),
    ],
)
async def test_webhook_urls_that_go_nowhere_are_refused_with_a_reason(
    sqlite_server: RunningServer, api: httpx.AsyncClient, url: str, fragment: str
) -> None:
    staff = bearer(await login_as(api, *await create_account_with_role(sqlite_server, "admin")))
    response = await api.post("/api/admin/webhooks", json={"url": url, "events": []}, headers=staff)
    assert response.status_code == 422 and fragment in response.json()["detail"], response.text


async def test_a_webhook_to_a_public_address_is_accepted(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    staff = bearer(await login_as(api, *await create_account_with_role(sqlite_server, "admin")))
    # Registering connects nowhere; the webhook is removed at once, so no event is ever sent out.
    created = await api.post("/api/admin/webhooks", json={"url": "https://[2606:4700::1111]/hook"}, headers=staff)
    assert created.status_code == 201, created.text
    assert (await api.delete(f"/api/admin/webhooks/{created.json()['id']}", headers=staff)).status_code == 204


@contextlib.contextmanager
def private_targets(server: RunningServer, *, allowed: bool) -> Iterator[None]:
    settings = server.app_runtime.settings
    before, settings.webhook_allow_private_targets = settings.webhook_allow_private_targets, allowed
    try:
        yield
    finally:
        settings.webhook_allow_private_targets = before


async def attempted_delivery(
    client: httpx.AsyncClient, webhook: dict[str, Any], charge_point_id: str, within: float = 10
) -> dict[str, Any]:
    """The webhook's delivery of an event of this charger, once it has been attempted and failed."""
    fetch = functools.partial(delivery_of, client, webhook, charge_point_id)
    return await poll(fetch, until=lambda delivery: bool(delivery.get("last_error")), within=within)


async def test_a_webhook_name_is_resolved_again_and_refused_at_delivery(
    quick: RunningServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    webhook = await subscribe(quick, client, by_name, ["charger_fault"])  # allowed on this node, for now
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.status(1, "Faulted", error_code="GroundFailure")
        await wait_until(lambda: len(receiver.events(charge_point_id)) == 1)
        # Posted to the address that was checked, with the name the operator gave as Host.
        assert receiver.requests[-1][0]["host"] == by_name.split("/")[2]
        with private_targets(quick, allowed=False):
            await charger.status(2, "Faulted", error_code="GroundFailure")

            delivery = await attempted_delivery(client, webhook, charge_point_id)
    assert len(receiver.events(charge_point_id)) == 1
    assert delivery["last_error"].startswith("refused: ") and "a loopback address" in delivery["last_error"]
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_the_delivery_log_names_no_operating_system_error(
    quick: RunningServer, client: httpx.AsyncClient
) -> None:
    webhook = await subscribe(quick, client, f"http://127.0.0.1:{closed_loopback_port()}/hook", ["charger_fault"])
    charge_point_id = await quick.add_charger()
    async with connect_charger(quick.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.status(1, "Faulted", error_code="GroundFailure")
        delivery = await attempted_delivery(client, webhook, charge_point_id)
    assert delivery["last_error"] == "could not connect"
