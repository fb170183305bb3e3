"""The live event stream (/api/events) follows the login it was opened with, and idle streams stay open."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
from tests.support.events import live_stream
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
async def chatty(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A node whose idle streams get a keep-alive every fifth of a second."""
    async with node_with(tmp_path_factory.mktemp("db-live"), live_keepalive_interval=0.2) as running:
        yield running


async def staff_login(server: RunningServer, client: httpx.AsyncClient, role: str = "admin") -> dict[str, str]:
    return await login_as(client, *await create_account_with_role(server, role))


async def user_id_of(client: httpx.AsyncClient, tokens: dict[str, str]) -> int:
    return int((await client.get("/api/me", headers=bearer(tokens))).json()["id"])


async def test_an_idle_stream_stays_open_through_keep_alives_and_then_delivers_an_event(chatty: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=chatty.http_url, timeout=10) as client:
        tokens = await staff_login(chatty, client)
    charge_point_id = await chatty.add_charger()
    async with live_stream(chatty.http_url, tokens) as stream:
        await wait_until(lambda: stream.keep_alives() >= 6)  # idle for more than a second: six intervals
        async with connect_charger(chatty.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.status(1, "Available")
            await wait_until(
                lambda: any(event["charge_point_id"] == charge_point_id for event in stream.events("connector_status"))
            )
        assert not stream.ended


async def test_a_demoted_admin_stream_stops_showing_staff_events(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    root = bearer(await staff_login(sqlite_server, api, "root"))
    tokens = await staff_login(sqlite_server, api)
    charge_point_id = await sqlite_server.add_charger()
    async with (
        live_stream(sqlite_server.http_url, tokens) as stream,
        connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
    ):
        await charger.status(1, "Available")
        await wait_until(lambda: len(stream.events("connector_status")) == 1)
        user_id = await user_id_of(api, tokens)
        demoted = await api.patch(f"/api/admin/users/{user_id}", json={"role": "user"}, headers=root)
        assert demoted.status_code == 200, demoted.text
        await charger.security_event("InvalidCentralSystemCertificate", tech_info="internal detail")
        await charger.status(2, "Faulted", error_code="GroundFailure")
        # Events reach a stream in order: once it shows the driver's own transaction, it has passed
        # the staff events published before.
        transaction = await charger.start_transaction(1, tokens["idTag"], meter_start=0)
        await wait_until(lambda: len(stream.events("transaction_started")) == 1)
    assert stream.events("transaction_started")[0]["transaction_id"] == transaction.transaction_id
    assert stream.events("security_event") == [] and len(stream.events("connector_status")) == 1
    assert not stream.ended


@pytest.mark.parametrize("change", ["block", "delete"])
async def test_blocking_or_deleting_an_account_ends_its_open_stream(
    sqlite_server: RunningServer, api: httpx.AsyncClient, change: str
) -> None:
    admin = bearer(await staff_login(sqlite_server, api))
    tokens = await signup(api)
    user_id = await user_id_of(api, tokens)
    async with live_stream(sqlite_server.http_url, tokens) as stream:
        if change == "block":
            answer = await api.patch(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=admin)
        else:
            answer = await api.delete(f"/api/admin/users/{user_id}", headers=admin)
        assert answer.status_code in (200, 204), answer.text
        # Well before the first keep-alive (15 s on this node): the change itself ends the stream.
        await wait_until(lambda: stream.ended, within=10)
    assert stream.keep_alives() == 0
    assert [event["reason"] for event in stream.events("stream_ended")] in (
        ["this account is blocked"],
        ["this session has ended; log in again"],
    )


async def test_logging_out_ends_only_the_stream_of_that_session(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    first = await signup(api)
    username = (await api.get("/api/me", headers=bearer(first))).json()["username"]
    second = await login_as(api, username)
    async with (
        live_stream(sqlite_server.http_url, first) as ending,
        live_stream(sqlite_server.http_url, second) as kept,
    ):
        assert (await api.post("/api/logout", headers=bearer(first))).status_code == 204
        await wait_until(lambda: ending.ended, within=10)
        charge_point_id = await sqlite_server.add_charger()
        async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            transaction = await charger.start_transaction(1, second["idTag"], meter_start=0)
            await wait_until(lambda: len(kept.events("transaction_started")) == 1)
        assert not kept.ended
    assert ending.events("stream_ended") == [{"reason": "this session has ended; log in again"}]
    assert kept.events("transaction_started")[0]["transaction_id"] == transaction.transaction_id
