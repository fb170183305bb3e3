"""OCPP 2.0.1 stations on the same endpoint as 1.6: negotiation, boot, status, authorization, and the
app's start and stop through RequestStartTransaction / RequestStopTransaction with the transaction
reported as TransactionEvents, its record read back through the API (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v201 import call as call201
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection

from csms.db.models import Charger, Transaction, TransactionEvent
from csms.simulator.charger import basic_auth_header, connect_charger
from csms.simulator.station201 import SimulatedStation, StationBehaviour, StationTransaction, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.waiting import poll, wait_until


async def booted_station(server: RunningServer, station: SimulatedStation) -> None:
    boot = await station.boot(serialNumber="SN-201")
    assert boot.status == "Accepted" and boot.interval > 0
    await station.status(1, "Available")


async def transaction_record(http: httpx.AsyncClient, tokens: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    response = await http.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


async def test_a_station_offering_both_versions_gets_the_newest(server: RunningServer) -> None:
    station_id = await server.add_charger()
    async with connect_station(
        server.ws_url, station_id, CHARGER_PASSWORD, subprotocols=["ocpp1.6", "ocpp2.0.1"]
    ) as station:
        assert station.websocket.subprotocol == "ocpp2.0.1"
        await booted_station(server, station)
    async with server.session() as session:
        charger = await session.get(Charger, station_id)
    assert charger is not None and (charger.ocpp_version, charger.serial_number) == ("2.0.1", "SN-201")


async def test_a_charger_offering_only_16_still_speaks_16(server: RunningServer) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert charger.websocket.subprotocol == "ocpp1.6"
        await charger.boot()
    async with server.session() as session:
        stored = await session.get(Charger, charge_point_id)
    assert stored is not None and stored.ocpp_version == "1.6"


async def test_an_offer_of_no_known_version_is_closed_after_the_handshake(sqlite_server: RunningServer) -> None:
    station_id = await sqlite_server.add_charger()
    headers = {"Authorization": basic_auth_header(station_id, CHARGER_PASSWORD)}
    async with websockets.connect(
        f"{sqlite_server.ws_url}/ocpp/{station_id}",
        subprotocols=[websockets.Subprotocol("ocpp1.5")],
        additional_headers=headers,
    ) as ws:
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1002


@contextlib.asynccontextmanager
async def raw_station(server: RunningServer) -> AsyncIterator[ClientConnection]:
    """A 2.0.1 station connection that sends frames by hand."""
    station_id = await server.add_charger()
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{station_id}",
        subprotocols=[websockets.Subprotocol("ocpp2.0.1")],
        additional_headers={"Authorization": basic_auth_header(station_id, CHARGER_PASSWORD)},
    ) as websocket:
        yield websocket


async def exchange(websocket: ClientConnection, frame: list[Any]) -> list[Any]:
    await websocket.send(json.dumps(frame))
    answer = json.loads(await asyncio.wait_for(websocket.recv(), 5))
    assert isinstance(answer, list)
    return answer


async def test_a_16_action_from_a_201_station_is_not_implemented(sqlite_server: RunningServer) -> None:
    # StartTransaction is not a 2.0.1 action: the 2.0.1 CALLERROR names it, with 2.0.1's spelling.
    async with raw_station(sqlite_server) as websocket:
        answer = await exchange(websocket, [2, "x1", "StartTransaction", {"connectorId": 1}])
    assert answer[:3] == [4, "x1", "NotImplemented"]


async def test_a_bad_201_payload_gets_the_201_spelling_of_its_error(sqlite_server: RunningServer) -> None:
    async with raw_station(sqlite_server) as websocket:
        # A field the schema does not have: FormatViolation in 2.0.1 (1.6 spells it FormationViolation).
        station = {"vendorName": "Acme", "model": "X", "colour": "red"}
        extra = await exchange(
            websocket, [2, "x2", "BootNotification", {"reason": "PowerUp", "chargingStation": station}]
        )
        # A Started event names its EVSE (2.0.1 E01.FR.16).
        started_nowhere = await exchange(
            websocket,
            [
                2,
                "x3",
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": "2026-12-02T10:00:00Z",
                    "triggerReason": "Authorized",
                    "seqNo": 0,
                    "transactionInfo": {"transactionId": "T-1"},
                },
            ],
        )
    assert extra[:3] == [4, "x2", "FormatViolation"]
    assert started_nowhere[:3] == [4, "x3", "OccurrenceConstraintViolation"]


async def test_an_integer_beyond_32_bits_deep_in_an_event_is_named_by_its_path(sqlite_server: RunningServer) -> None:
    event = {
        "eventType": "Started",
        "timestamp": "2026-12-02T10:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "T-big"},
        "evse": {"id": 1, "connectorId": 2**40},
    }
    async with raw_station(sqlite_server) as websocket:
        answer = await exchange(websocket, [2, "x4", "TransactionEvent", event])
    assert answer[:4] == [4, "x4", "TypeConstraintViolation", "evse/connectorId: not a 32-bit integer"]


async def test_authorize_answers_an_id_token_info(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        known = await station.authorize(tokens["idTag"], "Central")
        unknown = await station.authorize("NOT-A-TAG-OF-ANYONE")
    assert known.id_token_info["status"] == "Accepted"
    assert "personal_message" not in known.id_token_info  # no tariff applies here
    assert unknown.id_token_info["status"] == "Invalid"


async def test_the_app_starts_and_stops_a_201_station_and_reads_the_record(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)

        response = await http.post(
            "/api/start_charging", json={"evse_id": station_id, "connector_id": 1}, headers=bearer(tokens)
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "Accepted"}
        request = (await station.wait_for_call("RequestStartTransaction")).payload
        remote_start_id = request["remote_start_id"]
        assert request == {
            "id_token": {"id_token": tokens["idTag"], "type": "Central"},
            "evse_id": 1,
            "remote_start_id": remote_start_id,
        }

        # What the station does after accepting: the transaction's events, numbered from 0.
        id_token = {"idToken": tokens["idTag"], "type": "Central"}
        transaction = station.new_transaction(1, id_token, remote_start_id=remote_start_id)
        started = await station.transaction_event(
            transaction,
            "Started",
            "RemoteStart",
            energy_wh=1000,
            context="Transaction.Begin",
            charging_state="Charging",
        )
        assert started.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=1800)

        record = (await poll(lambda: _transactions(http, tokens), until=bool))[0]
        assert (record["charge_point_id"], record["evse_id"], record["transaction_key"]) == (
            station_id,
            1,
            transaction.transaction_id,
        )
        assert record["is_active"] and record["energy_wh"] == 800

        stop = await http.post("/api/stop_charging", json={"transaction_id": record["id"]}, headers=bearer(tokens))
        assert stop.status_code == 200 and stop.json() == {"status": "Accepted"}
        stop_request = (await station.wait_for_call("RequestStopTransaction")).payload
        assert stop_request == {"transaction_id": transaction.transaction_id}
        await station.transaction_event(
            transaction, "Ended", "RemoteStop", energy_wh=2500, context="Transaction.End", stopped_reason="Remote"
        )

    detail = await transaction_record(http, tokens, record["id"])
    assert not detail["is_active"] and detail["energy_wh"] == 1500 and detail["stop_reason"] == "Remote"
    registers = [v["value"] for v in detail["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert registers == ["1000", "1800", "2500"]
    async with server.session() as session:
        events = (
            await session.scalars(
                select(TransactionEvent).where(TransactionEvent.transaction_id == record["id"]).order_by("seq_no")
            )
        ).all()
    assert [(event.seq_no, event.event_type, event.trigger_reason) for event in events] == [
        (0, "Started", "RemoteStart"),
        (1, "Updated", "MeterValuePeriodic"),
        (2, "Ended", "RemoteStop"),
    ]


async def test_a_replayed_event_is_kept_once_and_changes_nothing(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    id_token = {"idToken": tokens["idTag"], "type": "Central"}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1, id_token)
        await station.transaction_event(
            transaction, "Started", "Authorized", energy_wh=500, context="Transaction.Begin"
        )
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=900)
    # The station lost the answers, reconnects and sends both again (same seqNos), then goes on.
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        again = await station.transaction_event(
            transaction, "Started", "Authorized", energy_wh=500, context="Transaction.Begin", seq_no=0
        )
        assert again.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=900, seq_no=1)
        await station.transaction_event(transaction, "Ended", "StopAuthorized", energy_wh=1200, stopped_reason="Local")

    records = await poll(lambda: _transactions(http, tokens), until=lambda found: not found[0]["is_active"])
    assert len(records) == 1 and records[0]["energy_wh"] == 700
    async with server.session() as session:
        seq_nos = (
            await session.scalars(
                select(TransactionEvent.seq_no).where(TransactionEvent.transaction_id == records[0]["id"])
            )
        ).all()
    assert sorted(seq_nos) == [0, 1, 2]


async def test_a_stop_of_a_transaction_started_on_16_is_refused_for_a_201_station(
    sqlite_server: RunningServer,
) -> None:
    # The same charger, upgraded to 2.0.1 while a 1.6 transaction was open: 2.0.1 has no name for it.
    async with httpx.AsyncClient(base_url=sqlite_server.http_url, timeout=10) as http:
        tokens = await signup(http)
        station_id = await sqlite_server.add_charger()
        async with connect_charger(sqlite_server.ws_url, station_id, CHARGER_PASSWORD) as charger:
            await charger.boot()
            started = await charger.start_transaction(1, tokens["idTag"], meter_start=0)
        async with connect_station(sqlite_server.ws_url, station_id, CHARGER_PASSWORD) as station:
            await booted_station(sqlite_server, station)
            stop = await http.post(
                "/api/stop_charging", json={"transaction_id": started.transaction_id}, headers=bearer(tokens)
            )
            assert stop.status_code == 422, stop.text
            assert "2.0.1" in stop.json()["detail"]
            assert not [call for call in station.received if call.action == "RequestStopTransaction"]


async def test_a_station_call_with_a_bad_timestamp_gets_format_violation(sqlite_server: RunningServer) -> None:
    status = {"timestamp": "yesterday", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    async with raw_station(sqlite_server) as websocket:
        answer = await exchange(websocket, [2, "x4", "StatusNotification", status])
        still_serving = await exchange(websocket, [2, "x5", "Heartbeat", {}])
    assert answer[:3] == [4, "x4", "FormatViolation"]
    assert still_serving[:2] == [3, "x5"]


async def _transactions(http: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await http.get("/api/transactions", headers=bearer(tokens))).json()
    return found


async def test_the_admins_generic_call_is_checked_against_the_stations_version(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        reset = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/Reset", json={"type": "Immediate", "evseId": 1}, headers=admin
        )
        assert reset.status_code == 200 and reset.json() == {"status": "Accepted"}
        assert (await station.wait_for_call("Reset")).payload == {"type": "Immediate", "evse_id": 1}

        # A 1.6 call to a 2.0.1 station, and a 1.6 payload of a call both versions have: 422, never sent.
        of_16 = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/RemoteStartTransaction",
            json={"idTag": "TAG-1", "connectorId": 1},
            headers=admin,
        )
        assert of_16.status_code == 422 and "OCPP 1.6 call" in of_16.json()["detail"], of_16.text
        reset_16 = await http.post(f"/api/admin/chargers/{station_id}/ocpp/Reset", json={"type": "Hard"}, headers=admin)
        assert reset_16.status_code == 422, reset_16.text
        unknown = await http.post(f"/api/admin/chargers/{station_id}/ocpp/FlyToTheMoon", json={}, headers=admin)
        assert unknown.status_code == 404
    assert [call.action for call in station.received] == ["Reset"]

    # The message log names each frame's version: the boot in, and the Reset out.
    async def logged() -> list[tuple[str, str | None, str | None]]:
        response = await http.get(f"/api/admin/chargers/{station_id}/messages", headers=admin)
        return [(frame["direction"], frame["action"], frame["ocpp_version"]) for frame in response.json()]

    frames = await poll(logged, until=lambda found: ("out", "Reset", "2.0.1") in found)
    assert ("in", "BootNotification", "2.0.1") in frames
    assert {version for _, _, version in frames} == {"2.0.1"}


async def test_an_energy_budget_stops_a_201_transaction_by_its_own_id(
    sqlite_server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.http_url, timeout=10) as http:
        tokens = await signup(http)
        budget = await http.put("/api/me/budget", json={"max_energy_wh": 5_000}, headers=bearer(tokens))
        assert budget.status_code == 200
        station_id = await sqlite_server.add_charger()
        async with connect_station(sqlite_server.ws_url, station_id, CHARGER_PASSWORD) as station:
            await booted_station(sqlite_server, station)
            transaction = station.new_transaction(1, {"idToken": tokens["idTag"], "type": "Central"})
            await station.transaction_event(
                transaction, "Started", "Authorized", energy_wh=0, context="Transaction.Begin"
            )
            await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=6_000)
            stop = await station.wait_for_call("RequestStopTransaction")
    assert stop.payload == {"transaction_id": transaction.transaction_id}


async def test_a_token_presented_after_plug_in_makes_the_transaction_the_drivers(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    # TxStartPoint EVConnected: the station begins the transaction on plug-in, the driver's token follows.
    tokens = await signup(http)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1)
        started = await station.transaction_event(transaction, "Started", "CablePluggedIn", energy_wh=100)
        assert started.id_token_info is None
        transaction.id_token = {"idToken": tokens["idTag"], "type": "Central"}
        authorized = await station.transaction_event(
            transaction, "Updated", "Authorized", with_token=True, charging_state="Charging"
        )
        assert authorized.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=1_100)
        await station.transaction_event(transaction, "Ended", "EVCommunicationLost", energy_wh=1_300)

    records = await poll(
        lambda: _transactions(http, tokens), until=lambda found: bool(found) and not found[0]["is_active"]
    )
    assert len(records) == 1
    assert (records[0]["transaction_key"], records[0]["energy_wh"]) == (transaction.transaction_id, 1_200)


async def test_a_token_presented_after_a_reconnect_still_makes_the_transaction_the_drivers(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    # The station began on plug-in, lost its connection, and sends the driver's token on the new one.
    tokens = await signup(http)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1)
        await station.transaction_event(transaction, "Started", "CablePluggedIn", energy_wh=100)
    await poll(lambda: _transactions_of_station(server, station_id), until=bool)
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        transaction.id_token = {"idToken": tokens["idTag"], "type": "Central"}
        authorized = await station.transaction_event(
            transaction, "Updated", "Authorized", with_token=True, charging_state="Charging"
        )
        assert authorized.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Ended", "EVCommunicationLost", energy_wh=700)

    records = await poll(
        lambda: _transactions(http, tokens), until=lambda found: bool(found) and not found[0]["is_active"]
    )
    assert [(record["transaction_key"], record["energy_wh"]) for record in records] == [
        (transaction.transaction_id, 600)
    ]


async def _transactions_of_station(server: RunningServer, station_id: str) -> list[str]:
    async with server.session() as session:
        keys = await session.scalars(
            select(Transaction.transaction_key).where(Transaction.charge_point_id == station_id)
        )
        return [key for key in keys.all() if key is not None]


async def test_a_base_report_becomes_the_stations_device_model_in_the_api(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    station_id = await server.add_charger()
    heartbeat = {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
        "variableCharacteristics": {"unit": "s", "dataType": "integer", "supportsMonitoring": False},
    }
    connector_type = {
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "ConnectorType"},
        "variableAttribute": [{"value": "cType2", "mutability": "ReadOnly"}],
    }
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        asked = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/GetBaseReport",
            json={"requestId": 7, "reportBase": "FullInventory"},
            headers=admin,
        )
        assert asked.status_code == 200 and asked.json() == {"status": "Accepted"}, asked.text
        # The report comes in two parts; the second one names the first variable again, with a new value.
        await station.notify_report(7, 0, [heartbeat], tbc=True)
        heartbeat["variableAttribute"] = [{"type": "Actual", "value": "120", "mutability": "ReadWrite"}]
        await station.notify_report(7, 1, [connector_type, heartbeat], tbc=False)

    response = await http.get(f"/api/admin/chargers/{station_id}/variables", headers=admin)
    assert response.status_code == 200, response.text
    variables = [
        (v["component_name"], v["evse_id"], v["evse_connector_id"], v["variable_name"], v["value"], v["data_type"])
        for v in response.json()
    ]
    assert variables == [
        ("Connector", 1, 1, "ConnectorType", "cType2", None),
        ("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "120", "integer"),
    ]


async def test_variables_read_and_set_through_the_generic_call_join_the_device_model(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    station_id = await server.add_charger()
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    offline = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
    behaviour = StationBehaviour(variables={("OCPPCommCtrlr", "HeartbeatInterval"): "300"})
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        await booted_station(server, station)
        read = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/GetVariables",
            json={"getVariableData": [heartbeat, offline]},
            headers=admin,
        )
        assert read.status_code == 200, read.text
        assert [result["attributeStatus"] for result in read.json()["getVariableResult"]] == [
            "Accepted",
            "UnknownVariable",
        ]
        written = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/SetVariables",
            json={"setVariableData": [{**heartbeat, "attributeValue": "60"}]},
            headers=admin,
        )
        assert written.status_code == 200, written.text
        assert behaviour.variables[("OCPPCommCtrlr", "HeartbeatInterval")] == "60"

    response = await http.get(f"/api/admin/chargers/{station_id}/variables", headers=admin)
    # What the station answered is kept (the unknown variable is not); the accepted write replaced the read.
    assert [(v["component_name"], v["variable_name"], v["attribute_type"], v["value"]) for v in response.json()] == [
        ("OCPPCommCtrlr", "HeartbeatInterval", "Actual", "60")
    ]


async def test_a_network_profile_may_raise_the_security_profile_but_never_lower_it(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    station_id = await server.add_charger()

    def network_profile(security_profile: int) -> dict[str, Any]:
        connection = {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": "wss://csms.example/ocpp",
            "messageTimeout": 30,
            "securityProfile": security_profile,
            "ocppInterface": "Wired0",
        }
        return {"configurationSlot": 1, "connectionData": connection}

    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        # Staff record the station at profile 2 (as after a move to TLS); a profile 1 network is refused.
        raised = await http.post(
            f"/api/admin/chargers/{station_id}/security_profile", json={"security_profile": 2}, headers=admin
        )
        assert raised.status_code == 200, raised.text
        lower = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/SetNetworkProfile", json=network_profile(1), headers=admin
        )
        assert lower.status_code == 422 and "cannot be lowered" in lower.json()["detail"], lower.text
        higher = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/SetNetworkProfile", json=network_profile(3), headers=admin
        )
        assert higher.status_code == 200 and higher.json() == {"status": "Accepted"}, higher.text
    assert [call.action for call in station.received] == ["SetNetworkProfile"]
    async with server.session() as session:
        charger = await session.get(Charger, station_id)
    assert charger is not None and (charger.security_profile, charger.security_profile_allowed) == (2, 3)


async def test_a_201_token_is_its_value_and_its_type(server: RunningServer, http: httpx.AsyncClient) -> None:
    username, _ = await create_account_with_role(server, "admin")
    admin = bearer(await login_as(http, username))
    card = f"CARD-{uuid.uuid4().hex[:8].upper()}"
    registered = await http.post("/api/admin/id_tags", json={"id_tag": card, "type": "ISO14443"}, headers=admin)
    assert registered.status_code == 201 and registered.json()["type"] == "ISO14443", registered.text
    bad_type = await http.post("/api/admin/id_tags", json={"id_tag": card + "X", "type": "Barcode"}, headers=admin)
    assert bad_type.status_code == 422
    tokens = await signup(http)
    mine = (await http.get("/api/me/id_tags", headers=bearer(tokens))).json()
    assert [(tag["id_tag"], tag["type"]) for tag in mine] == [(tokens["idTag"], "Central")]  # the app's own

    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        assert (await station.authorize(card, "ISO14443")).id_token_info["status"] == "Accepted"
        assert (await station.authorize(card, "KeyCode")).id_token_info["status"] == "Invalid"
        assert (await station.authorize(tokens["idTag"], "Central")).id_token_info["status"] == "Accepted"
        assert (await station.authorize(tokens["idTag"], "ISO14443")).id_token_info["status"] == "Invalid"
    # 1.6 has no types: the card works on a 1.6 charger as before.
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        assert (await charger.authorize(card)).id_tag_info["status"] == "Accepted"
    # An operator who registered the wrong type corrects it; the next Authorize sees the change.
    corrected = await http.patch(f"/api/admin/id_tags/{card}", json={"type": "KeyCode"}, headers=admin)
    assert corrected.status_code == 200 and corrected.json()["type"] == "KeyCode", corrected.text
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        assert (await station.authorize(card, "KeyCode")).id_token_info["status"] == "Accepted"


async def test_a_free_vend_transaction_is_accepted_with_no_driver(server: RunningServer) -> None:
    # NoAuthorization: the station let someone charge without any token (free vend).
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1, {"idToken": "", "type": "NoAuthorization"})
        started = await station.transaction_event(transaction, "Started", "CablePluggedIn", energy_wh=0)
        assert started.id_token_info["status"] == "Accepted"
        updated = await station.transaction_event(
            transaction, "Updated", "MeterValuePeriodic", energy_wh=700, with_token=True
        )
        assert updated.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Ended", "EVCommunicationLost", energy_wh=900)

    async def free_vend() -> Transaction | None:
        async with server.session() as session:
            found: Transaction | None = await session.scalar(
                select(Transaction).where(Transaction.charge_point_id == station_id)
            )
            return found

    recorded = await poll(free_vend, until=lambda found: found is not None and found.stop_timestamp is not None)
    assert recorded is not None
    assert (recorded.id_tag_status, recorded.user_id, recorded.id_token_type) == ("Accepted", None, "NoAuthorization")
    assert (recorded.meter_start, recorded.meter_stop) == (0, 900)


async def test_events_queued_while_offline_are_replayed_after_reconnect_with_their_own_times(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    token = {"idToken": tokens["idTag"], "type": "Central"}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1, token)
        await station.transaction_event(
            transaction, "Started", "Authorized", energy_wh=500, timestamp="2026-03-02T10:00:00Z"
        )
    # The link was down from 10:05; the station kept charging and queued its events, then sends them.
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        for at, energy in (("2026-03-02T10:15:00Z", 1_500), ("2026-03-02T10:30:00Z", 2_500)):
            queued = station_event_offline(transaction, "Updated", "MeterValuePeriodic", at=at, energy_wh=energy)
            await station.call(queued, suppress=False)
        ended = station_event_offline(
            transaction, "Ended", "EVCommunicationLost", at="2026-03-02T10:40:00Z", energy_wh=3_000
        )
        await station.call(ended, suppress=False)

    records = await poll(
        lambda: _transactions(http, tokens), until=lambda found: bool(found) and not found[0]["is_active"]
    )
    record = await transaction_record(http, tokens, records[0]["id"])
    assert (record["energy_wh"], record["stop_timestamp"]) == (2_500, "2026-03-02T10:40:00Z")
    registers = [v["value"] for v in record["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert registers == ["500", "1500", "2500", "3000"]
    async with server.session() as session:
        events = (
            await session.scalars(
                select(TransactionEvent).where(TransactionEvent.transaction_id == records[0]["id"]).order_by("seq_no")
            )
        ).all()
    assert [(event.seq_no, event.offline) for event in events] == [(0, False), (1, True), (2, True), (3, True)]


def station_event_offline(
    transaction: StationTransaction, event_type: str, trigger: str, *, at: str, energy_wh: int
) -> Any:
    """A TransactionEvent the station queued while offline (`offline: true`), sent as queued."""
    seq_no = transaction.next_seq_no
    transaction.next_seq_no += 1
    sampled = {"value": energy_wh, "measurand": "Energy.Active.Import.Register"}
    return call201.TransactionEvent(
        event_type=event_type,
        timestamp=at,
        trigger_reason=trigger,
        seq_no=seq_no,
        transaction_info={"transactionId": transaction.transaction_id},
        offline=True,
        meter_value=[{"timestamp": at, "sampledValue": [sampled]}],
    )


async def test_a_driver_reserves_an_evse_of_a_201_station_which_uses_it_or_lets_it_expire(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()

    async def reservation_statuses() -> list[tuple[int, str]]:
        mine = (await http.get("/api/reservations", headers=bearer(tokens))).json()
        return sorted((item["id"], item["status"]) for item in mine)

    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        reserved = await http.post(
            "/api/reservations", json={"evse_id": station_id, "connector_id": 1, "minutes": 30}, headers=bearer(tokens)
        )
        assert reserved.status_code == 200 and reserved.json()["status"] == "Accepted", reserved.text
        first = reserved.json()["id"]
        asked = (await station.wait_for_call("ReserveNow")).payload
        assert asked == {
            "id": first,
            "expiry_date_time": asked["expiry_date_time"],
            "id_token": {"id_token": tokens["idTag"], "type": "Central"},
            "evse_id": 1,
        }
        # The driver arrives: the transaction names the reservation, which is used up.
        transaction = station.new_transaction(1, {"idToken": tokens["idTag"], "type": "Central"})
        transaction.reservation_id = first
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0)
        await station.transaction_event(transaction, "Ended", "StopAuthorized", energy_wh=1_000)
        used = await poll(reservation_statuses, until=lambda found: found == [(first, "Used")])
        assert used == [(first, "Used")]

        # A second one the driver does not come for: the station reports it Expired.
        second = (
            await http.post(
                "/api/reservations", json={"evse_id": station_id, "connector_id": 1}, headers=bearer(tokens)
            )
        ).json()["id"]
        await station.reservation_status_update(second, "Expired")
        # And a third the driver cancels: CancelReservation names it.
        third = (
            await http.post(
                "/api/reservations", json={"evse_id": station_id, "connector_id": 1}, headers=bearer(tokens)
            )
        ).json()["id"]
        cancelled = await http.delete(f"/api/reservations/{third}", headers=bearer(tokens))
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled", cancelled.text
        assert (await station.wait_for_call("CancelReservation")).payload == {"reservation_id": third}
    assert await reservation_statuses() == [(first, "Used"), (second, "Expired"), (third, "Cancelled")]


async def test_the_station_is_told_the_running_cost_in_cost_updated_and_the_final_cost_at_the_end(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    staff = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    station_id = await server.add_charger()
    tariff = {"name": "per kWh", "currency": "EUR", "tax_rate": "0.20", "price_per_kwh": "0.30"}
    created = await http.post("/api/admin/tariffs", json=tariff, headers=staff)
    assert created.status_code == 201, created.text
    where = {"tariff_id": created.json()["id"], "charge_point_id": station_id}
    assert (await http.post("/api/admin/tariff_assignments", json=where, headers=staff)).status_code == 201
    tokens = await signup(http)
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        # Before the driver starts, the station shows them the price (2.0.1 I01), as they pay it.
        authorized = await station.authorize(tokens["idTag"], "Central")
        assert authorized.id_token_info["personal_message"] == {
            "format": "UTF8",
            "content": "0.36 EUR/kWh, incl. 20% tax",
        }
        transaction = station.new_transaction(1, {"idToken": tokens["idTag"], "type": "Central"})
        started = await station.transaction_event(
            transaction, "Started", "Authorized", energy_wh=1000, context="Transaction.Begin"
        )
        assert started.total_cost is None
        # 2.0.1 E01: an answer to Updated carries no cost; the running cost comes as CostUpdated (I02).
        updated = await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=1800)
        assert updated.total_cost is None
        await wait_until(lambda: station.calls_received("CostUpdated"))
        # 0.8 kWh x 0.30 = 0.24, with 20 % tax 0.288: 0.29.
        assert station.calls_received("CostUpdated") == [
            {"totalCost": 0.29, "transactionId": transaction.transaction_id}
        ]
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=2200)
        ended = await station.transaction_event(
            transaction, "Ended", "StopAuthorized", energy_wh=2500, context="Transaction.End", stopped_reason="Local"
        )
        # Told once a minute at most (CSMS_COST_UPDATE_INTERVAL), so the second reading was not told.
        assert len(station.calls_received("CostUpdated")) == 1
    # 1.5 kWh x 0.30 = 0.45, with tax 0.54: the final cost in the answer is the record's.
    assert ended.total_cost == 0.54
    record = (await poll(lambda: _transactions(http, tokens), until=lambda found: not found[0]["is_active"]))[0]
    assert (record["cost"], record["currency"]) == ("0.54", "EUR")


async def test_a_driver_reserves_any_evse_with_a_connector_of_a_type(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        body = {"evse_id": station_id, "connector_type": "cCCS2", "minutes": 20}
        reserved = await http.post("/api/reservations", json=body, headers=bearer(tokens))
        assert reserved.status_code == 200, reserved.text
        held = reserved.json()
        assert (held["status"], held["connector_id"], held["connector_type"]) == ("Accepted", 0, "cCCS2")
        asked = (await station.wait_for_call("ReserveNow")).payload
        # No evseId: the station holds any EVSE that has a CCS2 connector (2.0.1 H01.FR.04).
        assert asked == {
            "id": held["id"],
            "expiry_date_time": asked["expiry_date_time"],
            "id_token": {"id_token": tokens["idTag"], "type": "Central"},
            "connector_type": "cCCS2",
        }
        transaction = station.new_transaction(2, {"idToken": tokens["idTag"], "type": "Central"})
        transaction.reservation_id = held["id"]
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0)
        mine = await poll(
            lambda: http.get("/api/reservations", headers=bearer(tokens)),
            until=lambda response: response.json()[0]["status"] == "Used",
        )
        assert mine.json()[0]["transaction_id"] is not None


async def test_a_16_charger_cannot_be_reserved_by_connector_type_but_any_connector(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        assert (await charger.boot()).status == "Accepted"
        by_type = {"evse_id": charger_id, "connector_type": "cType2"}
        refused = await http.post("/api/reservations", json=by_type, headers=bearer(tokens))
        assert refused.status_code == 422, refused.text
        assert "by its id, not by its type" in refused.json()["detail"]
        anywhere = await http.post("/api/reservations", json={"evse_id": charger_id}, headers=bearer(tokens))
        assert anywhere.status_code == 200 and anywhere.json()["connector_id"] == 0, anywhere.text
        assert (await charger.wait_for_call("ReserveNow")).payload["connector_id"] == 0
    mine = (await http.get("/api/reservations", headers=bearer(tokens))).json()
    assert [item["connector_id"] for item in mine] == [0]  # the refused one was never kept


async def test_a_register_beyond_32_bits_is_a_reading_like_any_other(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    # 2.0.1 readings are numbers, not 32-bit integers: a fast charger's lifetime register passes 2^31 Wh
    # (2.1 GWh) in a few years, and its sessions must still be recorded.
    tokens = await signup(http)
    station_id = await server.add_charger()
    lifetime_wh = 3_000_000_000
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await booted_station(server, station)
        transaction = station.new_transaction(1, {"idToken": tokens["idTag"], "type": "Central"})
        await station.transaction_event(
            transaction, "Started", "Authorized", energy_wh=lifetime_wh, context="Transaction.Begin"
        )
        await station.transaction_event(
            transaction, "Ended", "StopAuthorized", energy_wh=lifetime_wh + 1_500, context="Transaction.End"
        )
    record = (await poll(lambda: _transactions(http, tokens), until=lambda found: not found[0]["is_active"]))[0]
    assert record["energy_wh"] == 1_500
