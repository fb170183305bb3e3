"""A change on one node holds on every node in bounded time, even when another node's bus link fails.

Node A reaches NATS directly, node B through a proxy the test cuts (B's link breaks, then comes back)
or blackholes (B's link silently drops everything and never reports a failure). What B keeps in
memory (idTags, logins, tariffs) must not outlive a change made through A by more than the bounds of
its settings: a bus reconnect drops it at once, the database's change counter within
CSMS_CACHE_CHECK_INTERVAL, and its own age within CSMS_CACHE_MAX_AGE.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    USER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    dependency_missing,
    login_as,
    new_username,
    settings_for,
    signup,
    start_server,
    stop_server,
)
from tests.support.tcp_proxy import CuttableProxy
from tests.support.waiting import wait_for_true, wait_until
from tests.support.webhooks import Receiver, running_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

NEVER = 3600.0  # a setting's bound that cannot come into play during a test
CHECK_INTERVAL = 0.5
MAX_AGE = 2.0
# A busy machine's scheduling, not the design: every bound below is asserted with this much slack.
SLACK = 5.0
# What NATS needs to notice the link is back (the client retries every second) and to say so.
RECONNECT = 3.0


@pytest.fixture
async def nats_proxy() -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(target_port=urlsplit(NATS_URL).port or 4222)
    await proxy.start()
    yield proxy
    await proxy.cut()


@contextlib.asynccontextmanager
async def node(database_url: str, bus_url: str, **settings: Any) -> AsyncIterator[RunningServer]:
    configured = settings_for(database_url, bus_url=bus_url, ocpp_call_timeout=3, **settings)
    try:
        handle, task, running = await start_server(configured)
    except Exception as error:
        dependency_missing(f"NATS at {bus_url} ({error})")
        raise
    try:
        yield running
    finally:
        await stop_server(handle, task)


@contextlib.asynccontextmanager
async def two_nodes(
    database_url: str, proxy: CuttableProxy, **settings: Any
) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Node A on NATS directly, node B through `proxy`, both with these settings."""
    async with (
        node(database_url, NATS_URL, **settings) as node_a,
        node(database_url, f"nats://127.0.0.1:{proxy.port}", **settings) as node_b,
    ):
        yield node_a, node_b


async def break_link(proxy: CuttableProxy, node_b: RunningServer, fault: str) -> None:
    """Cut B's link (B notices) or blackhole it (B notices nothing), and wait until B's bus is down."""
    if fault == "cut":
        await proxy.cut()
    else:
        proxy.blackhole(discard=True)
    await wait_for_true(lambda: _bus_is_down(node_b))


async def _bus_is_down(node: RunningServer) -> bool:
    return not await node.app_runtime.bus.is_healthy()


async def seconds_until(check: Callable[[], Awaitable[bool]], *, within: float) -> float:
    started = time.monotonic()
    await wait_for_true(check, within=within)
    return time.monotonic() - started


async def admin_of(node: RunningServer, api: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(api, (await create_account_with_role(node, "admin"))[0]))


async def tag_status(charger: SimulatedCharger, id_tag: str) -> str:
    status: str = (await charger.authorize(id_tag)).id_tag_info["status"]
    return status


# -- idTags ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def driver_known_on_b(
    node_a: RunningServer, node_b: RunningServer
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], dict[str, Any], SimulatedCharger]]:
    """A driver whose idTag a charger on B has presented (B keeps it), and an admin's client on A."""
    async with httpx.AsyncClient(base_url=node_a.http_url, timeout=10) as api_a:
        admin = await admin_of(node_a, api_a)
        driver = await signup(api_a)
        charge_point_id = await node_a.add_charger()
        async with connect_charger(node_b.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            assert await tag_status(charger, driver["idTag"]) == "Accepted"
            yield api_a, admin, driver, charger


async def block(api: httpx.AsyncClient, admin: dict[str, str], driver: dict[str, Any]) -> None:
    me = (await api.get("/api/me", headers=bearer(driver))).json()
    blocked = await api.patch(f"/api/admin/users/{me['id']}", json={"is_active": False}, headers=admin)
    assert blocked.status_code == 200, blocked.text


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_an_account_blocked_through_a_while_bs_link_is_down_is_refused_on_b_within_the_check_interval(
    shared_database: str, nats_proxy: CuttableProxy, fault: str
) -> None:
    async with (
        two_nodes(shared_database, nats_proxy, cache_check_interval=CHECK_INTERVAL, cache_max_age=NEVER) as (a, b),
        driver_known_on_b(a, b) as (api_a, admin, driver, charger),
    ):
        await break_link(nats_proxy, b, fault)
        await block(api_a, admin, driver)
        took = await seconds_until(lambda: _is_blocked(charger, driver["idTag"]), within=CHECK_INTERVAL + SLACK + 15)
        await nats_proxy.cut()  # a blackholed link would hold B's shutdown
    assert took < CHECK_INTERVAL + SLACK, took


async def _is_blocked(charger: SimulatedCharger, id_tag: str) -> bool:
    return await tag_status(charger, id_tag) == "Blocked"


async def test_an_account_blocked_through_a_while_bs_link_is_cut_is_refused_on_b_once_the_link_is_back(
    shared_database: str, nats_proxy: CuttableProxy
) -> None:
    # No counter checks and no expiry within the test: only the reconnect can drop B's copy.
    async with (
        two_nodes(shared_database, nats_proxy, cache_check_interval=NEVER, cache_max_age=NEVER) as (a, b),
        driver_known_on_b(a, b) as (api_a, admin, driver, charger),
    ):
        await break_link(nats_proxy, b, "cut")
        await block(api_a, admin, driver)
        assert await tag_status(charger, driver["idTag"]) == "Accepted"  # the announcement never reached B
        await nats_proxy.restore()
        took = await seconds_until(lambda: _is_blocked(charger, driver["idTag"]), within=RECONNECT + SLACK + 15)
    assert took < RECONNECT + SLACK, took


async def test_an_account_blocked_while_bs_link_drops_everything_is_refused_on_b_within_the_maximum_age(
    shared_database: str, nats_proxy: CuttableProxy
) -> None:
    # No counter checks within the test, and B's link never reports a failure: only the age bound is left.
    async with (
        two_nodes(shared_database, nats_proxy, cache_check_interval=NEVER, cache_max_age=MAX_AGE) as (a, b),
        driver_known_on_b(a, b) as (api_a, admin, driver, charger),
    ):
        await break_link(nats_proxy, b, "blackhole")
        await block(api_a, admin, driver)
        took = await seconds_until(lambda: _is_blocked(charger, driver["idTag"]), within=MAX_AGE + SLACK + 15)
        await nats_proxy.cut()
    assert took < MAX_AGE + SLACK, took


# -- logins ---------------------------------------------------------------------------------


async def _end_by_blocking(api: httpx.AsyncClient, admin: dict[str, str], username: str) -> None:
    user_id = await _user_id(api, admin, username)
    response = await api.patch(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200, response.text


async def _end_by_deleting(api: httpx.AsyncClient, admin: dict[str, str], username: str) -> None:
    response = await api.delete(f"/api/admin/users/{await _user_id(api, admin, username)}", headers=admin)
    assert response.status_code == 204, response.text


async def _end_by_changing_the_password(api: httpx.AsyncClient, _admin: dict[str, str], username: str) -> None:
    other_login = await login_as(api, username)  # the change ends every session but its own
    change = {"old_password": USER_PASSWORD, "new_password": "another-long-password-0123"}
    response = await api.post("/api/me/password", json=change, headers=bearer(other_login))
    assert response.status_code == 204, response.text


async def _user_id(api: httpx.AsyncClient, admin: dict[str, str], username: str) -> int:
    found = (await api.get("/api/admin/users", params={"q": username}, headers=admin)).json()
    return int(next(user["id"] for user in found if user["username"] == username))


LOGIN_ENDINGS = {
    "blocked": _end_by_blocking,
    "deleted": _end_by_deleting,
    "password_changed": _end_by_changing_the_password,
}


@pytest.mark.parametrize(
    ("ending", "fault"), [("blocked", "cut"), ("deleted", "blackhole"), ("password_changed", "blackhole")]
)
async def test_a_login_ended_through_a_while_bs_link_is_down_is_refused_on_b_within_the_check_interval(
    shared_database: str, nats_proxy: CuttableProxy, ending: str, fault: str
) -> None:
    async with (
        two_nodes(shared_database, nats_proxy, cache_check_interval=CHECK_INTERVAL, cache_max_age=NEVER) as (a, b),
        httpx.AsyncClient(base_url=a.http_url, timeout=10) as api_a,
        httpx.AsyncClient(base_url=b.http_url, timeout=10) as api_b,
    ):
        admin = await admin_of(a, api_a)
        username = new_username()
        driver = await signup(api_a, username)
        assert (await api_b.get("/api/me", headers=bearer(driver))).status_code == 200  # B keeps the login
        await break_link(nats_proxy, b, fault)
        await LOGIN_ENDINGS[ending](api_a, admin, username)

        async def is_refused_on_b() -> bool:
            return (await api_b.get("/api/me", headers=bearer(driver))).status_code == 401

        took = await seconds_until(is_refused_on_b, within=CHECK_INTERVAL + SLACK + 15)
        await nats_proxy.cut()
    assert took < CHECK_INTERVAL + SLACK, took


async def test_a_login_ended_through_a_while_bs_link_is_cut_is_refused_on_b_once_the_link_is_back(
    shared_database: str, nats_proxy: CuttableProxy
) -> None:
    async with (
        two_nodes(shared_database, nats_proxy, cache_check_interval=NEVER, cache_max_age=NEVER) as (a, b),
        httpx.AsyncClient(base_url=a.http_url, timeout=10) as api_a,
        httpx.AsyncClient(base_url=b.http_url, timeout=10) as api_b,
    ):
        admin = await admin_of(a, api_a)
        username = new_username()
        driver = await signup(api_a, username)
        assert (await api_b.get("/api/me", headers=bearer(driver))).status_code == 200
        await break_link(nats_proxy, b, "cut")
        await _end_by_blocking(api_a, admin, username)
        assert (await api_b.get("/api/me", headers=bearer(driver))).status_code == 200  # B missed it
        await nats_proxy.restore()

        async def is_refused_on_b() -> bool:
            return (await api_b.get("/api/me", headers=bearer(driver))).status_code == 401

        took = await seconds_until(is_refused_on_b, within=RECONNECT + SLACK + 15)
    assert took < RECONNECT + SLACK, took


# -- tariffs --------------------------------------------------------------------------------


class ChargingOnB:
    """Short charging sessions on a charger of node B, each priced by B (its `charging_finished` webhook)."""

    def __init__(self, charger: SimulatedCharger, id_tag: str, receiver: Receiver) -> None:
        self._charger = charger
        self._id_tag = id_tag
        self._receiver = receiver

    async def cost_of_one_session(self) -> str | None:
        started = await self._charger.start_transaction(1, self._id_tag, meter_start=0)
        transaction_id = started.transaction_id
        await self._charger.stop_transaction(transaction_id, meter_stop=1000)
        await wait_until(lambda: self._finished(transaction_id) is not None)
        finished = self._finished(transaction_id)
        assert finished is not None
        cost: str | None = finished["cost"]
        return cost

    def _finished(self, transaction_id: int) -> dict[str, Any] | None:
        events = self._receiver.events(self._charger.id)
        return next((e for e in events if e.get("transaction_id") == transaction_id), None)


async def add_a_session_fee_at(api: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> None:
    tariff = {"name": "Session fee", "currency": "EUR", "session_fee": "1.00"}
    created = await api.post("/api/admin/tariffs", json=tariff, headers=admin)
    assert created.status_code == 201, created.text
    assigned = await api.post(
        "/api/admin/tariff_assignments",
        json={"tariff_id": created.json()["id"], "charge_point_id": charge_point_id},
        headers=admin,
    )
    assert assigned.status_code == 201, assigned.text


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_a_tariff_assigned_through_a_while_bs_link_is_down_prices_bs_sessions_within_the_check_interval(
    shared_database: str, nats_proxy: CuttableProxy, fault: str
) -> None:
    settings = {
        "cache_check_interval": CHECK_INTERVAL,
        "cache_max_age": NEVER,
        "webhook_allow_private_targets": True,
        "webhook_poll_interval": 0.1,
    }
    async with (
        running_receiver() as receiver,
        two_nodes(shared_database, nats_proxy, **settings) as (a, b),
        httpx.AsyncClient(base_url=a.http_url, timeout=10) as api_a,
    ):
        admin = await admin_of(a, api_a)
        hook = {"url": receiver.url, "events": ["charging_finished"]}
        assert (await api_a.post("/api/admin/webhooks", json=hook, headers=admin)).status_code == 201
        driver = await signup(api_a)
        charge_point_id = await a.add_charger()
        async with connect_charger(b.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            sessions = ChargingOnB(charger, driver["idTag"], receiver)
            assert await sessions.cost_of_one_session() is None  # B keeps the tariffs: none
            await break_link(nats_proxy, b, fault)
            await add_a_session_fee_at(api_a, admin, charge_point_id)
            changed_at = time.monotonic()
            while (cost := await sessions.cost_of_one_session()) is None:
                assert time.monotonic() - changed_at < CHECK_INTERVAL + SLACK + 15, "B never read the new tariff"
            took = time.monotonic() - changed_at
            await nats_proxy.cut()
    assert cost == "1.00"
    assert took < CHECK_INTERVAL + SLACK, took
