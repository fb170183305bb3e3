"""Commands between nodes over NATS: their deadline, their authenticity, their record, and a bus that drops traffic.

Node A holds the charger's socket, node B takes the app's requests; faults go through a TCP proxy in
front of NATS that the test cuts (connections reset) or blackholes (sockets open, nothing forwarded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import nats
import pytest
from sqlalchemy import select, update

from csms.bus import BusUnavailable, command_subject, subject_token
from csms.bus.nats import NatsBus
from csms.db.models import Charger, ChargerCommandRecord, SecurityEvent
from csms.ocpp.command_envelope import Command, CommandSeal, derive_secret
from csms.ocpp.commands import CommandRefused
from csms.simulator.charger import ChargerBehaviour, SimulatedCharger, connect_charger
from csms.simulator.station201 import connect_station
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
from tests.support.nats_server import nats_server_with_logins
from tests.support.tcp_proxy import CuttableProxy
from tests.support.waiting import poll, wait_for_true, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

CALL_TIMEOUT = 2.0
BUS_GRACE = 2.0  # how much longer the asking node waits for the bus (commands._BUS_GRACE)


@pytest.fixture
async def nats_proxy() -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(target_port=urlsplit(NATS_URL).port or 4222)
    await proxy.start()
    yield proxy
    await proxy.cut()


def through(proxy: CuttableProxy) -> str:
    return f"nats://127.0.0.1:{proxy.port}"


@contextlib.asynccontextmanager
async def running_node(database_url: str, *, role: str, bus_url: str, **settings: Any) -> AsyncIterator[RunningServer]:
    configured = settings_for(database_url, bus_url=bus_url, node_role=role, ocpp_call_timeout=CALL_TIMEOUT, **settings)
    try:
        handle, task, running = await start_server(configured)
    except Exception as error:
        dependency_missing(f"NATS at {bus_url} ({error})")
    try:
        yield running
    finally:
        await stop_server(handle, task)


async def records_of(node: RunningServer, charge_point_id: str) -> list[ChargerCommandRecord]:
    query = select(ChargerCommandRecord).where(ChargerCommandRecord.charge_point_id == charge_point_id)
    async with node.session() as session:
        return list((await session.scalars(query.order_by(ChargerCommandRecord.id))).all())


def calls_received(charger: SimulatedCharger, action: str) -> list[dict[str, Any]]:
    return [received.payload for received in charger.received if received.action == action]


def start_body(charge_point_id: str) -> dict[str, Any]:
    return {"evse_id": charge_point_id, "connector_id": 1}


@pytest.mark.parametrize("blackholed", ["holding node", "asking node"])
async def test_a_start_held_up_by_a_blackholed_bus_link_fails_in_time_and_never_reaches_the_charger(
    shared_database: str, nats_proxy: CuttableProxy, blackholed: str
) -> None:
    holding_bus, asking_bus = (
        (through(nats_proxy), NATS_URL) if blackholed == "holding node" else (NATS_URL, through(nats_proxy))
    )
    async with (
        running_node(shared_database, role="ocpp", bus_url=holding_bus) as node_a,
        running_node(shared_database, role="api", bus_url=asking_bus) as node_b,
    ):
        charge_point_id = await node_a.add_charger()
        async with httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app:
            driver = bearer(await signup(app))
            async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
                await charger.status(1, "Available")
                nats_proxy.blackhole()
                started = time.monotonic()
                response = await app.post("/api/start_charging", json=start_body(charge_point_id), headers=driver)
                answered_after = time.monotonic() - started
                nats_proxy.heal()  # what the link held back now arrives, long after its deadline
                records = await poll(
                    lambda: records_of(node_a, charge_point_id),
                    until=lambda rows: any(
                        row.outcome == "expired" and row.node == node_a.app_runtime.node_id for row in rows
                    ),
                )
                await charger.heartbeat()  # anything sent to the charger before this frame has arrived
                received = calls_received(charger, "RemoteStartTransaction")
    assert response.status_code == 504, response.text
    assert answered_after < CALL_TIMEOUT + BUS_GRACE + 2, answered_after
    # Before, node A started a new timer when the command finally arrived, and sent it to the charger.
    assert received == []
    expired = next(row for row in records if row.outcome == "expired")
    assert (expired.action, expired.origin_node) == ("RemoteStartTransaction", node_b.app_runtime.node_id)
    assert "after its deadline; it was not sent" in (expired.detail or "")


async def test_a_start_the_charger_accepted_while_the_bus_link_was_cut_is_recorded_as_answered_late(
    shared_database: str, nats_proxy: CuttableProxy
) -> None:
    async with (
        running_node(shared_database, role="ocpp", bus_url=through(nats_proxy)) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        charge_point_id = await node_a.add_charger()
        answer_now = asyncio.Event()
        async with httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app:
            driver = bearer(await signup(app))
            me = (await app.get("/api/me", headers=driver)).json()["username"]
            admin = bearer(await login_as(app, *await create_account_with_role(node_b, "admin")))
            behaviour = ChargerBehaviour(answer_after=answer_now)
            async with connect_charger(
                node_a.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour
            ) as charger:
                await charger.status(1, "Available")
                asking = asyncio.create_task(
                    app.post("/api/start_charging", json=start_body(charge_point_id), headers=driver)
                )
                await charger.wait_for_call("RemoteStartTransaction")
                await nats_proxy.cut()  # node A's answer can no longer reach node B
                answer_now.set()
                await wait_for_true(
                    lambda: _has_outcome(node_a, charge_point_id, "answered"), within=CALL_TIMEOUT + BUS_GRACE
                )
                response = await asking
                await nats_proxy.start()

                async def commands() -> httpx.Response:
                    return await app.get(f"/api/admin/chargers/{charge_point_id}/commands", headers=admin)

                listed = await poll(
                    commands, until=lambda found: bool(found.json()) and found.json()[0]["caller_got_no_answer"]
                )
    assert response.status_code == 504, response.text
    [command] = listed.json()
    assert command["command_id"] in response.json()["detail"]
    assert "may still have been carried out" in response.json()["detail"]
    # The charger's Accepted, which the app never saw, is on the record beside the 504.
    assert {key: command[key] for key in ("action", "outcome", "answer_status", "answered_late")} == {
        "action": "RemoteStartTransaction",
        "outcome": "answered",
        "answer_status": "Accepted",
        "answered_late": True,
    }
    assert command["requested_by"].startswith("user ") and me in command["requested_by"]
    assert (command["origin_node"], command["executed_by"]) == (node_b.app_runtime.node_id, node_a.app_runtime.node_id)


async def _has_outcome(node: RunningServer, charge_point_id: str, outcome: str) -> bool:
    return any(row.outcome == outcome for row in await records_of(node, charge_point_id))


async def test_readyz_reports_a_bus_link_that_silently_drops_traffic(
    shared_database: str, nats_proxy: CuttableProxy
) -> None:
    async with running_node(shared_database, role="all", bus_url=through(nats_proxy)) as node:
        async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as probe:

            async def readyz() -> httpx.Response:
                return await probe.get("/readyz")

            assert (await readyz()).status_code == 200
            nats_proxy.blackhole()
            # The client still counts itself connected: only a round trip through NATS shows the loss.
            dropped = await poll(readyz, until=lambda answer: answer.status_code == 503, within=10)
            nats_proxy.heal()
            back = await poll(readyz, until=lambda answer: answer.status_code == 200, within=10)
    assert dropped.json()["bus"] == "unreachable"
    assert back.json()["bus"] == "ok"


def socket_subject(node: RunningServer, charge_point_id: str) -> str:
    """The command subject of the charger's socket on `node`, as an intruder on NATS would find it in the
    traffic (commands and presence announcements name it)."""
    session = node.app_runtime.registry.get(charge_point_id)
    assert session is not None
    return node.on_the_wire(command_subject(charge_point_id, session.connection_id))


def forged_commands(subject: str) -> list[dict[str, Any]]:
    """What an intruder on NATS sends: the old unsigned shape, and a sealed one under a guessed secret."""
    guessed = CommandSeal(derive_secret("a guess"), clock=time.time, max_lifetime=60)
    command = Command(
        command_id="f" * 32,
        action="Reset",
        payload={"type": "Hard"},
        deadline=time.time() + 5,
        origin_node="node-x",
        requested_by="csms",
    )
    new_key = "41" * 20
    return [
        {"action": "ChangeConfiguration", "payload": {"key": "SecurityProfile", "value": "0"}, "within": 5},
        {"action": "ChangeConfiguration", "payload": {"key": "AuthorizationKey", "value": new_key}, "within": 5},
        {"action": "Reset", "payload": {"type": "Hard"}, "within": 5},
        guessed.seal(subject, command),
    ]


async def ask_raw(client: nats.NATS, subject: str, message: dict[str, Any]) -> dict[str, Any]:
    reply = await client.request(subject, json.dumps(message).encode(), timeout=5)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def security_events_of(node: RunningServer, charge_point_id: str) -> list[SecurityEvent]:
    query = select(SecurityEvent).where(SecurityEvent.charge_point_id == charge_point_id)
    async with node.session() as session:
        return list((await session.scalars(query)).all())


async def test_a_forged_command_on_nats_never_reaches_the_charger_and_is_a_security_event(shared_database: str) -> None:
    async with running_node(shared_database, role="all", bus_url=NATS_URL) as node:
        charge_point_id = await node.add_charger()
        async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.heartbeat()
            intruder = await nats.connect(NATS_URL)
            try:
                subject = socket_subject(node, charge_point_id)
                replies = [await ask_raw(intruder, subject, forged) for forged in forged_commands(subject)]
            finally:
                await intruder.close()
            events = await poll(
                lambda: security_events_of(node, charge_point_id),
                until=lambda found: any(event.kind == "bus_command_unauthenticated" for event in found),
            )
            await charger.heartbeat()
            received = [call.action for call in charger.received]
    assert [reply["error"]["kind"] for reply in replies] == ["refused"] * 4
    # Before, the charger got all of them: a lower SecurityProfile, a new password and a Hard Reset.
    assert received == []
    assert "not signed with the cluster secret" in (events[0].detail or "")
    records = await records_of(node, charge_point_id)
    assert records == []  # nothing was carried out


async def test_a_command_captured_on_nats_and_sent_again_is_refused(shared_database: str) -> None:
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        charge_point_id, other_id = await node_a.add_charger(), await node_a.add_charger()
        captured: list[tuple[str, dict[str, Any]]] = []
        listener = await nats.connect(NATS_URL)

        async def capture(message: Any) -> None:
            captured.append((message.subject, json.loads(message.data)))

        await listener.subscribe(node_a.on_the_wire(f"csms.commands.{subject_token(charge_point_id)}.*"), cb=capture)
        await listener.flush()
        try:
            async with (
                httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app,
                connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
                connect_charger(node_a.ws_url, other_id, CHARGER_PASSWORD) as other,
            ):
                await charger.status(1, "Available")
                await other.status(1, "Available")
                started = await app.post(
                    "/api/start_charging", json=start_body(charge_point_id), headers=bearer(await signup(app))
                )
                await wait_until(lambda: captured)
                subject, command = captured[0]
                again = await ask_raw(listener, subject, command)
                elsewhere = await ask_raw(listener, socket_subject(node_a, other_id), command)
                await charger.heartbeat()
                await other.heartbeat()
                starts, other_starts = (
                    calls_received(charger, "RemoteStartTransaction"),
                    calls_received(other, "RemoteStartTransaction"),
                )
        finally:
            await listener.close()
    assert started.json() == {"status": "Accepted"}
    assert (again["error"]["kind"], elsewhere["error"]["kind"]) == ("refused", "refused")
    assert "received before" in again["error"]["detail"]
    assert len(starts) == 1 and other_starts == []


async def test_the_node_holding_the_charger_refuses_lowering_its_security_profile_whoever_asks(
    shared_database: str,
) -> None:
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        charge_point_id = await node_a.add_charger()
        async with connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.heartbeat()
            async with node_a.session() as session:  # as if it had connected with TLS once
                await session.execute(
                    update(Charger).where(Charger.charge_point_id == charge_point_id).values(security_profile=2)
                )
                await session.commit()
            # Not through the API (which refuses it too): a path to the bus that forgot the rule.
            with pytest.raises(CommandRefused, match="cannot be lowered"):
                await node_b.app_runtime.commands.send(
                    charge_point_id, "ChangeConfiguration", {"key": "SecurityProfile", "value": "1"}
                )
            records = await poll(lambda: records_of(node_a, charge_point_id), until=bool)
            await charger.heartbeat()
            received = calls_received(charger, "ChangeConfiguration")
    assert received == []
    assert [(row.outcome, row.requested_by, row.origin_node) for row in records] == [
        ("refused", "csms", node_b.app_runtime.node_id)
    ]


async def test_nats_with_the_repos_configuration_refuses_anonymous_clients_and_csms_nodes_log_in(
    shared_database: str,
) -> None:
    async with nats_server_with_logins() as server:
        anonymous = nats.NATS()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await anonymous.connect(server.url, allow_reconnect=False, connect_timeout=2)
        with contextlib.suppress(TimeoutError):  # a client that never got in may hang closing
            async with asyncio.timeout(2):
                await anonymous.close()
        with pytest.raises(BusUnavailable, match="Authorization Violation"):
            await NatsBus(server.url).start()
        # The repo's configuration grants the csms user `csms.>`: a deployment without a namespace.
        login = {"bus_user": "csms", "bus_password": server.node_password, "bus_namespace": None}
        async with (
            running_node(shared_database, role="ocpp", bus_url=server.url, **login) as node_a,
            running_node(shared_database, role="api", bus_url=server.url, **login) as node_b,
        ):
            charge_point_id = await node_a.add_charger()
            async with (
                httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app,
                connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
            ):
                await charger.status(1, "Available")
                driver = bearer(await signup(app))
                started = await app.post("/api/start_charging", json=start_body(charge_point_id), headers=driver)
                ready = await app.get("/readyz")
    assert started.json() == {"status": "Accepted"}
    assert ready.json()["bus"] == "ok"


async def test_the_events_login_follows_live_events_but_may_not_publish_commands() -> None:
    async with nats_server_with_logins() as server:
        errors: list[Exception] = []

        async def remember(error: Exception) -> None:
            errors.append(error)

        reader = await nats.connect(
            server.url, user="events", password=server.events_password, error_cb=remember, allow_reconnect=False
        )
        try:
            await reader.subscribe("csms.events.>")
            await reader.flush()
            await reader.publish("csms.commands.CP-1", b"{}")
            await reader.flush()
            await wait_until(lambda: errors, within=5)
        finally:
            await reader.close()
    assert [str(error).lower() for error in errors] == [
        'nats: permissions violation for publish to "csms.commands.cp-1"'
    ]


async def test_calls_between_nodes_whose_clocks_are_three_minutes_apart_keep_their_deadlines(
    shared_database: str,
) -> None:
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        for node, skew in ((node_a, 90.0), (node_b, -90.0)):
            clock = node.app_runtime.cluster_clock
            assert clock is not None
            clock.local_clock = lambda skew=skew: time.time() + skew  # type: ignore[misc]
            await clock.measure()  # each learns its offset from the database clock
        charge_point_id = await node_a.add_charger()
        async with (
            httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app,
            connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
        ):
            await charger.status(1, "Available")
            started = await app.post(
                "/api/start_charging", json=start_body(charge_point_id), headers=bearer(await signup(app))
            )
    # Read off the nodes' own clocks, B's deadline would be 3 minutes past for A, and the start dropped.
    assert started.json() == {"status": "Accepted"}
    assert len(calls_received(charger, "RemoteStartTransaction")) == 1


async def test_a_node_with_another_cluster_secret_cannot_command_chargers_and_is_told_why(shared_database: str) -> None:
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL, bus_secret="not the cluster's") as node_b,
    ):
        charge_point_id = await node_a.add_charger()
        async with (
            httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app,
            connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
        ):
            await charger.status(1, "Available")
            response = await app.post(
                "/api/start_charging", json=start_body(charge_point_id), headers=bearer(await signup(app))
            )
            await charger.heartbeat()
            received = calls_received(charger, "RemoteStartTransaction")
    assert response.status_code == 422
    assert "every node needs the same CSMS_BUS_SECRET" in response.json()["detail"]
    assert received == []


async def test_a_201_station_on_one_node_is_started_and_stopped_by_the_app_on_another(shared_database: str) -> None:
    # The command crosses the bus version-neutral; node A, holding the socket, spells it in 2.0.1.
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        station_id = await node_a.add_charger()
        async with httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app:
            tokens = await signup(app)
            async with connect_station(node_a.ws_url, station_id, CHARGER_PASSWORD) as station:
                await station.boot()
                await station.status(1, "Available")
                started = await app.post("/api/start_charging", json=start_body(station_id), headers=bearer(tokens))
                assert started.status_code == 200 and started.json() == {"status": "Accepted"}, started.text
                request = (await station.wait_for_call("RequestStartTransaction")).payload
                assert request["id_token"] == {"id_token": tokens["idTag"], "type": "Central"}
                transaction = station.new_transaction(
                    1, {"idToken": tokens["idTag"], "type": "Central"}, remote_start_id=request["remote_start_id"]
                )
                await station.transaction_event(transaction, "Started", "RemoteStart", energy_wh=0)

                async def open_transactions() -> list[dict[str, Any]]:
                    found: list[dict[str, Any]] = (await app.get("/api/transactions", headers=bearer(tokens))).json()
                    return found

                record = (await poll(open_transactions, until=bool))[0]
                stopped = await app.post(
                    "/api/stop_charging", json={"transaction_id": record["id"]}, headers=bearer(tokens)
                )
                assert stopped.status_code == 200 and stopped.json() == {"status": "Accepted"}, stopped.text
                stop_request = (await station.wait_for_call("RequestStopTransaction")).payload
                assert stop_request == {"transaction_id": transaction.transaction_id}
        records = await poll(lambda: records_of(node_a, station_id), until=lambda found: len(found) >= 2)
        assert [(record.action, record.node) for record in records] == [
            ("RequestStartTransaction", node_a.app_runtime.node_id),
            ("RequestStopTransaction", node_a.app_runtime.node_id),
        ]


async def test_a_201_station_on_one_node_gets_its_local_list_from_the_api_on_another(shared_database: str) -> None:
    # SendLocalList crosses the bus as a neutral command (an expiry among its fields); node A spells it in 2.0.1.
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        station_id = await node_a.add_charger()
        async with httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app:
            admin = bearer(await login_as(app, *await create_account_with_role(node_b, "admin")))
            id_tag = "BUS" + secrets.token_hex(5).upper()
            tag = {"id_tag": id_tag, "expiry_date": "2031-01-02T03:04:05Z", "parent_id_tag": "FLEET"}
            assert (await app.post("/api/admin/id_tags", json=tag, headers=admin)).status_code == 201
            async with connect_station(node_a.ws_url, station_id, CHARGER_PASSWORD) as station:
                await station.boot()
                url = f"/api/admin/chargers/{station_id}/local_list"
                sent = await app.post(url, json={"update_type": "Full"}, headers=admin)
                assert sent.status_code == 200 and sent.json()["status"] == "Accepted", sent.text
                version = await app.post(f"/api/admin/chargers/{station_id}/ocpp/GetLocalListVersion", headers=admin)
                assert version.json() == {"versionNumber": 1}, version.text
                frame = station.calls_received("SendLocalList")[0]
            held = (await app.get(url, headers=admin)).json()
        listed = [entry for entry in frame["localAuthorizationList"] if entry["idToken"]["idToken"] == id_tag]
        assert listed == [
            {
                "idToken": {"idToken": id_tag, "type": "ISO14443"},
                "idTokenInfo": {
                    "status": "Accepted",
                    "cacheExpiryDateTime": "2031-01-02T03:04:05.000Z",
                    "groupIdToken": {"idToken": "FLEET", "type": "Central"},
                },
            }
        ]
        assert (held["list_version"], held["reported_version"]) == (1, 1)
        records = await poll(lambda: records_of(node_a, station_id), until=lambda found: len(found) >= 2)
        assert [(record.action, record.node) for record in records] == [
            ("SendLocalList", node_a.app_runtime.node_id),
            ("GetLocalListVersion", node_a.app_runtime.node_id),
        ]


async def test_a_201_station_on_one_node_gets_a_charging_profile_from_the_api_on_another(shared_database: str) -> None:
    # SetChargingProfile crosses the bus as a neutral command (a nested profile with times); node A spells it.
    async with (
        running_node(shared_database, role="ocpp", bus_url=NATS_URL) as node_a,
        running_node(shared_database, role="api", bus_url=NATS_URL) as node_b,
    ):
        station_id = await node_a.add_charger()
        async with httpx.AsyncClient(base_url=node_b.http_url, timeout=30) as app:
            admin = bearer(await login_as(app, *await create_account_with_role(node_b, "admin")))
            async with connect_station(node_a.ws_url, station_id, CHARGER_PASSWORD) as station:
                await station.boot()
                body = {
                    "connector_id": 1,
                    "charging_profile_id": 3,
                    "stack_level": 0,
                    "purpose": "TxDefaultProfile",
                    "kind": "Recurring",
                    "recurrency": "Daily",
                    "start_schedule": "2030-01-01T17:00:00Z",
                    "valid_from": "2030-01-01T00:00:00Z",
                    "charging_rate_unit": "W",
                    "periods": [{"start_period": 0, "limit": 3700}, {"start_period": 10800, "limit": 11000}],
                }
                url = f"/api/admin/chargers/{station_id}/charging_profiles"
                sent = await app.post(url, json=body, headers=admin)
                frame = station.calls_received("SetChargingProfile")[0]
            held = (await app.get(url, headers=admin)).json()
    assert sent.json() == {"status": "Accepted"}, sent.text
    assert frame["chargingProfile"] == {
        "id": 3,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily",
        "validFrom": "2030-01-01T00:00:00.000Z",
        "chargingSchedule": [
            {
                "id": 3,
                "startSchedule": "2030-01-01T17:00:00.000Z",
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 3700.0},
                    {"startPeriod": 10800, "limit": 11000.0},
                ],
            }
        ],
    }
    assert [(item["charging_profile_id"], item["start_schedule"]) for item in held] == [(3, "2030-01-01T17:00:00Z")]
