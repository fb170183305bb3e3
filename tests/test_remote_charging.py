"""The app's flow: log in, start charging on a charger, see the record, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from csms.api.schemas import StartCharging
from csms.db.models import OcppMessage
from csms.simulator.charger import ChargerBehaviour, SimulatedCharger, connect_charger
from csms.simulator.station201 import connect_station
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    signup,
)
from tests.support.waiting import poll


async def wait_for_transaction(http: httpx.AsyncClient, tokens: dict[str, Any]) -> dict[str, Any]:
    async def transactions() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await http.get("/api/transactions", headers=bearer(tokens))).json()
        return found

    return (await poll(transactions, until=bool))[0]


async def start_as_charger_would(charger: SimulatedCharger, id_tag: str, connector_id: int) -> int:
    """What a charger does after accepting RemoteStartTransaction."""
    started = await charger.start_transaction(connector_id, id_tag, meter_start=1000)
    assert started.id_tag_info["status"] == "Accepted"
    return int(started.transaction_id)


async def test_login_start_meter_stop_end_to_end(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await charger.status(2, "Available")

        response = await http.post(
            "/api/start_charging",
            json={"evse_id": charge_point_id, "connector_id": 2},
            headers=bearer(tokens),
        )
        assert response.status_code == 200
        assert response.json() == {"status": "Accepted"}
        received = await charger.wait_for_call("RemoteStartTransaction")
        assert received.payload == {"id_tag": tokens["idTag"], "connector_id": 2}

        transaction_id = await start_as_charger_would(charger, tokens["idTag"], 2)
        await charger.meter_values(2, transaction_id, 1800)
        record = await wait_for_transaction(http, tokens)
        assert (record["id"], record["charge_point_id"], record["connector_id"]) == (
            transaction_id,
            charge_point_id,
            2,
        )
        # OCPP 1.6: the connector is its own EVSE, and csms's id is the transaction's only id.
        assert (record["evse_id"], record["transaction_key"]) == (2, None)
        assert record["is_active"] and record["energy_wh"] == 800

        stop = await http.post("/api/stop_charging", json={"transaction_id": transaction_id}, headers=bearer(tokens))
        assert stop.status_code == 200 and stop.json() == {"status": "Accepted"}
        assert (await charger.wait_for_call("RemoteStopTransaction")).payload == {"transaction_id": transaction_id}
        await charger.stop_transaction(transaction_id, 2500, id_tag=tokens["idTag"], reason="Remote")

    detail = (await http.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))).json()
    assert not detail["is_active"] and detail["energy_wh"] == 1500 and detail["stop_reason"] == "Remote"
    assert [v["value"] for v in detail["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"] == ["1800"]


async def test_rejected_remote_start_is_returned_as_is(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    behaviour = ChargerBehaviour(remote_start_status="Rejected")
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour):
        response = await http.post(
            "/api/start_charging",
            json={"evse_id": charge_point_id, "connector_id": 1},
            headers=bearer(tokens),
        )
    assert (response.status_code, response.json()) == (200, {"status": "Rejected"})


async def test_start_on_an_unknown_charger_is_404(http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    response = await http.post(
        "/api/start_charging", json={"evse_id": "NOPE-1", "connector_id": 1}, headers=bearer(tokens)
    )
    assert response.status_code == 404 and "unknown charger" in response.json()["detail"]


async def test_start_on_a_charger_that_is_not_connected_is_409_at_once(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    response = await asyncio.wait_for(
        http.post(
            "/api/start_charging",
            json={"evse_id": charge_point_id, "connector_id": 1},
            headers=bearer(tokens),
        ),
        1.0,
    )
    assert response.status_code == 409 and "not connected" in response.json()["detail"]


async def test_start_on_an_unknown_connector_is_422(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.status(1, "Available")
        response = await http.post(
            "/api/start_charging",
            json={"evse_id": charge_point_id, "connector_id": 3},
            headers=bearer(tokens),
        )
        assert charger.received == []
    assert response.status_code == 422 and "no connector 3" in response.json()["detail"]


# A charger that booted but reported no connector yet: its connection answers which connectors a start
# may name (those stored from earlier connections, read once), so csms reads no charger row per start.
# By version: how the simulated charger connects, and the call a start sends it.
BOOT_ONLY_VERSIONS: dict[str, tuple[Callable[..., contextlib.AbstractAsyncContextManager[Any]], str]] = {
    "1.6": (connect_charger, "RemoteStartTransaction"),
    "2.0.1": (connect_station, "RequestStartTransaction"),
}


@contextlib.asynccontextmanager
async def booted_without_status(server: RunningServer, charge_point_id: str, version: str) -> AsyncIterator[Any]:
    connect, _action = BOOT_ONLY_VERSIONS[version]
    async with connect(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        yield charger


async def start_on(http: httpx.AsyncClient, tokens: dict[str, Any], charge_point_id: str, connector_id: int) -> Any:
    body = {"evse_id": charge_point_id, "connector_id": connector_id}
    return await http.post("/api/start_charging", json=body, headers=bearer(tokens))


@pytest.mark.parametrize("version", sorted(BOOT_ONLY_VERSIONS))
async def test_a_charger_booted_without_status_is_started_on_any_connector_from_one(
    server: RunningServer, http: httpx.AsyncClient, version: str
) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with booted_without_status(server, charge_point_id, version) as charger:
        for connector_id in (2, 1):  # the second start is answered from what the first read
            response = await start_on(http, tokens, charge_point_id, connector_id)
            assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
        assert [call.action for call in charger.received] == [BOOT_ONLY_VERSIONS[version][1]] * 2
        refused = await start_on(http, tokens, charge_point_id, 0)
        assert refused.status_code == 422 and len(charger.received) == 2
    unknown = await start_on(http, tokens, "NOPE-BOOTED", 1)
    assert unknown.status_code == 404 and "unknown charger" in unknown.json()["detail"]


@pytest.mark.parametrize("version", sorted(BOOT_ONLY_VERSIONS))
async def test_a_charger_booted_without_status_is_held_to_the_connectors_it_reported_before(
    server: RunningServer, http: httpx.AsyncClient, version: str
) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with booted_without_status(server, charge_point_id, version) as charger:
        await charger.status(1, "Available")
        await charger.status(2, "Available")
    async with booted_without_status(server, charge_point_id, version) as charger:
        for _attempt in range(2):  # the first read the stored connectors, the second is answered from them
            refused = await start_on(http, tokens, charge_point_id, 3)
            assert refused.status_code == 422
            assert "no connector 3 (it has 1, 2)" in refused.json()["detail"]
        assert charger.received == []
        accepted = await start_on(http, tokens, charge_point_id, 2)
        assert (accepted.status_code, accepted.json()) == (200, {"status": "Accepted"})
        # Once it reports on this connection, what it reports here is what counts, as before.
        await charger.status(3, "Available")
        assert (await start_on(http, tokens, charge_point_id, 3)).status_code == 200
        assert (await start_on(http, tokens, charge_point_id, 1)).status_code == 422


async def test_start_with_connector_zero_is_422(http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    response = await http.post("/api/start_charging", json={"evse_id": "CP", "connector_id": 0}, headers=bearer(tokens))
    assert response.status_code == 422


# Bodies FastAPI refuses in different ways: start_charging's own handler (StartChargingRoute) must
# refuse each exactly as FastAPI's solver would, in the same order (a body that is not JSON before the token).
_REFUSED_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("no body", {}),
    ("not JSON", {"content": b'{"evse_id": ', "headers": {"content-type": "application/json"}}),
    (
        "not declared JSON",
        {"content": b'{"evse_id": "CP", "connector_id": 1}', "headers": {"content-type": "text/plain"}},
    ),
    ("no content type", {"content": b'{"evse_id": "CP", "connector_id": 1}'}),
    ("a list", {"json": [1, 2]}),
    ("empty object", {"json": {}}),
    ("both ways of naming", {"json": {"evse_id": "CP", "connector_id": 1, "qr": "ocpp://CP?connector=1"}}),
    ("wrong types", {"json": {"evse_id": 5, "connector_id": "x"}}),
    ("connector 0", {"json": {"evse_id": "CP", "connector_id": 0}}),
]


async def test_start_refuses_bad_bodies_exactly_as_fastapi_would(http: httpx.AsyncClient) -> None:
    fastapi_itself = FastAPI()

    @fastapi_itself.post("/api/start_charging")
    async def documented_body_only(body: StartCharging) -> None:
        raise AssertionError("every case here is refused")

    tokens = await signup(http)
    transport = httpx.ASGITransport(app=fastapi_itself)
    async with httpx.AsyncClient(transport=transport, base_url="http://oracle") as oracle:
        for case, request in _REFUSED_BODIES:
            headers = {**request.pop("headers", {}), **bearer(tokens)}
            ours = await http.post("/api/start_charging", headers=headers, **request)
            expected = await oracle.post("/api/start_charging", headers=headers, **request)
            assert (ours.status_code, ours.json()) == (422, expected.json()), case
        without_token = await http.post(
            "/api/start_charging", content=b"{", headers={"content-type": "application/json"}
        )
        assert (without_token.status_code, without_token.json()["detail"][0]["type"]) == (422, "json_invalid")


async def test_charger_that_does_not_answer_in_time_is_504(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    timeout = server.app_runtime.settings.ocpp_call_timeout
    behaviour = ChargerBehaviour(answer_delay=timeout + 1)
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour):
        response = await http.post(
            "/api/start_charging",
            json={"evse_id": charge_point_id, "connector_id": 1},
            headers=bearer(tokens),
        )
    assert response.status_code == 504 and "did not answer" in response.json()["detail"]


async def test_calls_queued_behind_a_silent_charger_each_fail_within_their_own_timeout(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    timeout = server.app_runtime.settings.ocpp_call_timeout
    charge_point_id = await server.add_charger()
    drivers = [bearer(await signup(http)) for _ in range(4)]
    behaviour = ChargerBehaviour(answer_delay=20 * timeout)  # never answers while the test runs
    body = {"evse_id": charge_point_id, "connector_id": 1}

    async def start(headers: dict[str, str]) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await http.post("/api/start_charging", json=body, headers=headers)
        return response, time.monotonic() - started

    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        answers = await asyncio.gather(*(start(headers) for headers in drivers))
    assert [response.status_code for response, _ in answers] == [504] * 4
    # Before the fix they came after 1, 2, 3 and 4 timeouts: each waited for the call ahead of it.
    assert all(seconds < 2 * timeout for _, seconds in answers), [seconds for _, seconds in answers]
    # A call still waiting its turn at its deadline is never sent; one sent in time was not answered.
    details = [response.json()["detail"] for response, _ in answers]
    sent = [detail for detail in details if "did not answer" in detail]
    assert len(sent) + sum("was not sent" in detail for detail in details) == 4
    assert 1 <= len(sent) == await calls_sent(server, charge_point_id, "RemoteStartTransaction")


async def calls_sent(server: RunningServer, charge_point_id: str, action: str) -> int:
    """How many calls of `action` csms sent the charger, as its message log tells."""
    await server.flush_message_log()
    query = select(func.count()).where(
        OcppMessage.charge_point_id == charge_point_id,
        OcppMessage.direction == "out",
        OcppMessage.message_type == 2,
        OcppMessage.action == action,
    )
    async with server.session() as session:
        return int(await session.scalar(query) or 0)


async def test_start_without_a_token_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/start_charging", json={"evse_id": "CP001", "connector_id": 1})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    refused = await http.post("/api/start_charging", json={}, headers={"Authorization": "Bearer not.a.token"})
    assert refused.status_code == 401  # the token is checked before the body's fields


async def test_retried_start_with_the_same_idempotency_key_sends_one_remote_start(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        headers = {**bearer(tokens), "Idempotency-Key": "start-7f3a"}
        body = {"evse_id": charge_point_id, "connector_id": 1}
        first = await http.post("/api/start_charging", json=body, headers=headers)
        retried = await http.post("/api/start_charging", json=body, headers=headers)
        other_key = await http.post(
            "/api/start_charging", json=body, headers={**bearer(tokens), "Idempotency-Key": "start-other"}
        )
        assert [first.json(), retried.json(), other_key.json()] == [{"status": "Accepted"}] * 3
        assert retried.headers.get("idempotent-replayed") == "true"
        assert [c.action for c in charger.received] == ["RemoteStartTransaction"] * 2


async def test_idempotency_key_reused_with_another_body_is_422(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD):
        headers = {**bearer(tokens), "Idempotency-Key": "k-1"}
        await http.post("/api/start_charging", json={"evse_id": charge_point_id, "connector_id": 1}, headers=headers)
        other = await http.post(
            "/api/start_charging", json={"evse_id": charge_point_id, "connector_id": 2}, headers=headers
        )
    assert other.status_code == 422 and "different request" in other.json()["detail"]


async def test_a_user_cannot_stop_or_see_another_users_transaction(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    alice = await signup(http)
    bob = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start_as_charger_would(charger, alice["idTag"], 1)
        stop = await http.post("/api/stop_charging", json={"transaction_id": transaction_id}, headers=bearer(bob))
        peek = await http.get(f"/api/transactions/{transaction_id}", headers=bearer(bob))
        assert charger.received == []
    assert stop.status_code == 404 and peek.status_code == 404
    assert (await http.get("/api/transactions", headers=bearer(bob))).json() == []


async def test_an_admin_can_stop_any_transaction(server: RunningServer, http: httpx.AsyncClient) -> None:
    alice = await signup(http)
    admin = await login_as(http, (await create_account_with_role(server, "admin"))[0])
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start_as_charger_would(charger, alice["idTag"], 1)
        stop = await http.post("/api/stop_charging", json={"transaction_id": transaction_id}, headers=bearer(admin))
        assert stop.json() == {"status": "Accepted"}
        assert (await charger.wait_for_call("RemoteStopTransaction")).payload == {"transaction_id": transaction_id}


async def test_stopping_a_finished_transaction_is_409(server: RunningServer, http: httpx.AsyncClient) -> None:
    alice = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = await start_as_charger_would(charger, alice["idTag"], 1)
        await charger.stop_transaction(transaction_id, 1200)
        stop = await http.post("/api/stop_charging", json={"transaction_id": transaction_id}, headers=bearer(alice))
    assert stop.status_code == 409 and "already stopped" in stop.json()["detail"]


async def test_many_users_start_at_once_without_blocking_each_other(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    users = [await signup(http) for _ in range(5)]
    charge_point_ids = [await server.add_charger() for _ in range(5)]
    # Each charger holds its answer until all five have their call: started one after another, the
    # first call would time out before the second charger ever heard of its own.
    everyone_asked = asyncio.Event()
    behaviour = ChargerBehaviour(answer_after=everyone_asked)
    async with contextlib_chargers(server, charge_point_ids, behaviour) as chargers:
        starts = [
            asyncio.create_task(
                http.post("/api/start_charging", json={"evse_id": cp, "connector_id": 1}, headers=bearer(user))
            )
            for cp, user in zip(charge_point_ids, users, strict=True)
        ]
        await asyncio.gather(*(charger.wait_for_call("RemoteStartTransaction") for charger in chargers))
        everyone_asked.set()
        answers = await asyncio.gather(*starts)
    assert [a.json() for a in answers] == [{"status": "Accepted"}] * 5


def contextlib_chargers(server: RunningServer, ids: list[str], behaviour: ChargerBehaviour) -> Any:
    import contextlib

    @contextlib.asynccontextmanager
    async def run() -> Any:
        async with contextlib.AsyncExitStack() as stack:
            yield [
                await stack.enter_async_context(
                    connect_charger(server.ws_url, cp, CHARGER_PASSWORD, behaviour=behaviour)
                )
                for cp in ids
            ]

    return run()
