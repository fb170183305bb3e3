"""OCPP 2.1 stations on the same endpoint as 1.6 and 2.0.1: 2.1 preferred when offered, OCPP-J 2.1's
SEND and CALLRESULTERROR, the app's start and stop with the transaction's limit kept, NotifySettlement
stored, the 2.1 messages csms takes no action on answered, and the tariff calls sent through the
operator's generic call. The station is the `ocpp` package's ChargePoint checking everything against its
2.1 schemas, or raw frames where the package has no words (SEND, CALLRESULTERROR)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v21 import call as call21
from websockets.asyncio.client import ClientConnection

from csms.domain.commands import (
    CancelReservation,
    ChangePassword,
    ChargerCommand,
    GetLocalListVersion,
    ListedToken,
    RemoteStart,
    RemoteStop,
    ReserveNow,
    SendLocalList,
    SetDefaultTariff,
    UpdateFirmware,
    UploadLog,
)
from csms.ocpp.v21 import OCPP21
from csms.ocpp.v21 import commands as v21_commands
from csms.services.clock import utc_now
from csms.simulator.charger import basic_auth_header
from csms.simulator.station201 import SimulatedStation, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.backends import sqlite_only_server
from tests.support.events import live_stream
from tests.support.waiting import poll, wait_until

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only

PERIODIC_DATA = {"id": 1, "pending": 0, "basetime": "2026-03-02T10:00:00Z", "data": [{"t": 0, "v": "230.1"}]}


@pytest.fixture
async def staff(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


@contextlib.asynccontextmanager
async def station21(server: RunningServer, station_id: str | None = None) -> AsyncIterator[SimulatedStation]:
    """A booted 2.1 station with EVSE 1 Available."""
    station_id = station_id or await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, ocpp_version="2.1") as station:
        assert (await station.boot(serialNumber="SN-21")).status == "Accepted"
        await station.status(1, "Available")
        yield station


@contextlib.asynccontextmanager
async def raw_station(server: RunningServer, subprotocol: str = "ocpp2.1") -> AsyncIterator[ClientConnection]:
    """A booted station of `subprotocol` that sends frames by hand."""
    station_id = await server.add_charger()
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{station_id}",
        subprotocols=[websockets.Subprotocol(subprotocol)],
        additional_headers={"Authorization": basic_auth_header(station_id, CHARGER_PASSWORD)},
    ) as websocket:
        assert websocket.subprotocol == subprotocol
        boot = (
            ["BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "Raw"}]
            if subprotocol == "ocpp1.6"
            else ["BootNotification", {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "Raw"}}]
        )
        assert (await exchange(websocket, json.dumps([2, "boot", *boot])))[:2] == [3, "boot"]
        yield websocket


async def exchange(websocket: ClientConnection, frame: str) -> list[Any]:
    await websocket.send(frame)
    answer = json.loads(await asyncio.wait_for(websocket.recv(), 10))
    assert isinstance(answer, list)
    return answer


async def next_answer_is_the_heartbeats(websocket: ClientConnection) -> None:
    """csms handles one charger's frames in order: had it answered what came before, that answer would
    arrive before the Heartbeat's."""
    answer = await exchange(websocket, '[2, "after", "Heartbeat", {}]')
    assert answer[:2] == [3, "after"], answer


async def logged_frames(http: httpx.AsyncClient, staff: dict[str, str], station_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/admin/chargers/{station_id}/messages", headers=staff)
    assert response.status_code == 200, response.text
    frames: list[dict[str, Any]] = response.json()
    return frames


def station_id_of(websocket: ClientConnection) -> str:
    assert websocket.request is not None
    return websocket.request.path.rsplit("/", 1)[1]


async def unconfirmed_count(http: httpx.AsyncClient, **labels: str) -> float:
    """The csms_ocpp_unconfirmed_messages counter summed over every series with `labels`."""
    text = (await http.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"csms_ocpp_unconfirmed_messages_total\{(.*)\} (\S+)$", line)
        if match and all(f'{name}="{value}"' in match.group(1) for name, value in labels.items()):
            total += float(match.group(2))
    return total


# -- negotiation --------------------------------------------------------------------------------


async def test_a_station_offering_21_201_and_16_gets_21_and_is_shown_as_21(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    offered = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
    async with connect_station(
        server.ws_url, station_id, CHARGER_PASSWORD, subprotocols=offered, ocpp_version="2.1"
    ) as station:
        assert station.websocket.subprotocol == "ocpp2.1"
        assert (await station.boot(serialNumber="SN-21")).status == "Accepted"
        await station.status(1, "Available")
    seen = (await http.get(f"/api/admin/chargers/{station_id}", headers=staff)).json()
    assert (seen["ocpp_version"], seen["serial_number"]) == ("2.1", "SN-21")
    frames = await poll(lambda: logged_frames(http, staff, station_id), until=lambda found: len(found) >= 4)
    assert {frame["ocpp_version"] for frame in frames} == {"2.1"}


async def test_a_station_offering_201_and_16_still_gets_201(server: RunningServer) -> None:
    station_id = await server.add_charger()
    async with connect_station(
        server.ws_url, station_id, CHARGER_PASSWORD, subprotocols=["ocpp1.6", "ocpp2.0.1"]
    ) as station:
        assert station.websocket.subprotocol == "ocpp2.0.1"


# -- OCPP-J 2.1 SEND and CALLRESULTERROR ----------------------------------------------------------


async def test_a_send_goes_to_its_handler_and_is_never_answered(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tokens = await login_as(http, (await create_account_with_role(server, "admin"))[0])
    labels = {"message_type": "send", "action": "NotifyPeriodicEventStream", "result": "handled"}
    handled_before = await unconfirmed_count(http, **labels)
    async with raw_station(server) as websocket, live_stream(server.http_url, tokens) as live:
        station_id = station_id_of(websocket)
        await websocket.send(json.dumps([6, "s-1", "NotifyPeriodicEventStream", PERIODIC_DATA]))
        await next_answer_is_the_heartbeats(websocket)
        await wait_until(lambda: live.events("station_message"))
    [event] = live.events("station_message")
    # The stream and how many values, not the values themselves (those are in the message log).
    assert (event["charge_point_id"], event["action"], event["stream_id"], event["values"], event["pending"]) == (
        station_id,
        "NotifyPeriodicEventStream",
        1,
        1,
        0,
    )
    frames = await poll(
        lambda: logged_frames(http, staff, station_id), until=lambda found: any(f["message_type"] == 6 for f in found)
    )
    [send] = [frame for frame in frames if frame["message_type"] == 6]
    assert (send["direction"], send["unique_id"], send["action"]) == ("in", "s-1", "NotifyPeriodicEventStream")
    assert not [frame for frame in frames if frame["direction"] == "out" and frame["unique_id"] == "s-1"]
    assert await unconfirmed_count(http, **labels) == handled_before + 1


@pytest.mark.parametrize(
    ("frame", "is_a_send"),
    [
        pytest.param([6, "s-2", "FlyToTheMoon", {}], True, id="unknown-action"),
        pytest.param([6, "s-3", "Heartbeat", {}], True, id="a-call-action-sent-as-send"),
        pytest.param([6, "s-4", "NotifyPeriodicEventStream", {"id": 1}], True, id="breaks-its-schema"),
        pytest.param(
            [6, "s-6", "NotifyPeriodicEventStream", {**PERIODIC_DATA, "id": 2**40}], True, id="beyond-32-bits"
        ),
        # Frames that are no readable SEND are only logged.
        pytest.param([6, "s-5", "NotifyPeriodicEventStream"], False, id="malformed"),
        pytest.param([6, "s-7" * 20, "NotifyPeriodicEventStream", PERIODIC_DATA], False, id="id-too-long"),
        pytest.param([6, "s-8"], False, id="too-short"),
    ],
)
async def test_a_send_csms_cannot_take_is_dropped_unanswered_and_logged(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str], frame: list[Any], is_a_send: bool
) -> None:
    dropped_before = await unconfirmed_count(http, message_type="send", result="dropped")
    async with raw_station(server) as websocket:
        station_id = station_id_of(websocket)
        await websocket.send(json.dumps(frame))
        await next_answer_is_the_heartbeats(websocket)
    dropped = await unconfirmed_count(http, message_type="send", result="dropped")
    assert dropped == dropped_before + (1 if is_a_send else 0)
    frames = await poll(
        lambda: logged_frames(http, staff, station_id),
        until=lambda found: any(frame[1] in f["frame"] and f["direction"] == "in" for f in found),
    )
    assert not [logged for logged in frames if logged["direction"] == "out" and logged["unique_id"] == frame[1]]


async def test_a_callresulterror_is_logged_and_counted_and_never_answered(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    before = await unconfirmed_count(http, message_type="callresulterror", result="FormatViolation")
    async with raw_station(server) as websocket:
        station_id = station_id_of(websocket)
        await websocket.send(json.dumps([5, "boot", "FormatViolation", "interval is not an integer", {}]))
        await websocket.send(json.dumps([5, "boot", "FormatViolation"]))  # malformed: dropped as well
        await next_answer_is_the_heartbeats(websocket)
    frames = await poll(
        lambda: logged_frames(http, staff, station_id),
        until=lambda found: len([f for f in found if f["direction"] == "in" and f["unique_id"] != "after"]) >= 3,
    )
    assert [frame["message_type"] for frame in frames if frame["direction"] == "in"].count(5) == 1
    assert await unconfirmed_count(http, message_type="callresulterror", result="FormatViolation") == before + 1


@pytest.mark.parametrize(
    ("subprotocol", "code"), [("ocpp2.0.1", "MessageTypeNotSupported"), ("ocpp1.6", "FormationViolation")]
)
@pytest.mark.parametrize(
    "frame",
    [[6, "x-1", "NotifyPeriodicEventStream", PERIODIC_DATA], [5, "x-1", "FormatViolation", "bad", {}]],
    ids=["send", "callresulterror"],
)
async def test_send_and_callresulterror_are_unknown_message_types_before_21(
    server: RunningServer, subprotocol: str, code: str, frame: list[Any]
) -> None:
    async with raw_station(server, subprotocol) as websocket:
        answer = await exchange(websocket, json.dumps(frame))
        assert answer[:3] == [4, "x-1", code], answer
        await next_answer_is_the_heartbeats(websocket)


async def test_an_unknown_message_type_is_still_refused_on_21(server: RunningServer) -> None:
    async with raw_station(server) as websocket:
        answer = await exchange(websocket, '[7, "x-2", "Heartbeat", {}]')
    assert answer[:3] == [4, "x-2", "MessageTypeNotSupported"], answer


# -- E Transactions, C Ad hoc payment -----------------------------------------------------------


async def test_the_app_starts_and_stops_a_21_station_with_its_limit_kept_and_reads_the_record(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tokens = await signup(http)
    async with station21(server) as station:
        station_id = station.id
        started = await http.post(
            "/api/start_charging", json={"evse_id": station_id, "connector_id": 1}, headers=bearer(tokens)
        )
        assert started.status_code == 200 and started.json() == {"status": "Accepted"}, started.text
        request = (await station.wait_for_call("RequestStartTransaction")).payload
        [wire] = station.calls_received("RequestStartTransaction")
        assert wire == {
            "idToken": {"idToken": tokens["idTag"], "type": "Central"},
            "evseId": 1,
            "remoteStartId": request["remote_start_id"],
        }
        transaction = station.new_transaction(
            1, {"idToken": tokens["idTag"], "type": "Central"}, remote_start_id=request["remote_start_id"]
        )
        limit = {"maxCost": 12.5, "maxEnergy": 20000.0}
        answer = await station.transaction_event(
            transaction,
            "Started",
            "RemoteStart",
            energy_wh=1_000,
            context="Transaction.Begin",
            charging_state="Charging",
            transaction_limit=limit,
        )
        assert answer.id_token_info["status"] == "Accepted"
        await station.transaction_event(transaction, "Updated", "MeterValuePeriodic", energy_wh=1_700)
        record = (await poll(lambda: my_records(http, tokens), until=bool))[0]
        assert (record["charge_point_id"], record["transaction_key"], record["is_active"]) == (
            station_id,
            transaction.transaction_id,
            True,
        )

        stopped = await http.post("/api/stop_charging", json={"transaction_id": record["id"]}, headers=bearer(tokens))
        assert stopped.status_code == 200 and stopped.json() == {"status": "Accepted"}, stopped.text
        await station.wait_for_call("RequestStopTransaction")
        assert station.calls_received("RequestStopTransaction") == [{"transactionId": transaction.transaction_id}]
        await station.transaction_event(
            transaction, "Ended", "RemoteStop", energy_wh=2_600, context="Transaction.End", stopped_reason="Remote"
        )

    ended = await poll(lambda: my_records(http, tokens), until=lambda found: not found[0]["is_active"])
    detail = (await http.get(f"/api/transactions/{ended[0]['id']}", headers=bearer(tokens))).json()
    assert (detail["energy_wh"], detail["stop_reason"]) == (1_600, "Remote")
    # The limit the station carried in its Started event is kept with the event, camelCase as sent.
    frames = await logged_frames(http, staff, station_id)
    [started_frame] = [f for f in frames if f["action"] == "TransactionEvent" and '"Started"' in f["frame"]]
    assert json.loads(started_frame["frame"])[3]["transactionInfo"]["transactionLimit"] == limit


async def my_records(http: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.get("/api/transactions", headers=bearer(tokens))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


async def test_an_ad_hoc_payment_is_accepted_and_its_settlement_stored_answered_and_listed_for_staff(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tokens = await login_as(http, (await create_account_with_role(server, "admin"))[0])
    async with station21(server) as station, live_stream(server.http_url, tokens) as live:
        # The payment terminal authorized the card: its reference is the token, which csms accepts unchecked.
        transaction = station.new_transaction(1, {"idToken": "PSP-REF-1", "type": "DirectPayment"})
        started = await station.transaction_event(
            transaction,
            "Started",
            "Authorized",
            energy_wh=0,
            charging_state="Charging",
            transaction_limit={"maxCost": 20.0},
        )
        assert started.id_token_info == {"status": "Accepted"}
        answer = await station.call(
            call21.NotifySettlement(
                psp_ref="PSP-REF-1",
                status="Settled",
                settlement_amount=7.35,
                settlement_time="2026-03-02T11:00:00Z",
                transaction_id=transaction.transaction_id,
                receipt_id="R-1",
                vat_number="NL123456789B01",
            )
        )
        assert answer.receipt_url is None and answer.receipt_id is None  # the package read csms's {} answer
        await wait_until(lambda: live.events("settlement"))
    response = await http.get(f"/api/admin/chargers/{station.id}/settlements", headers=staff)
    assert response.status_code == 200, response.text
    [settlement] = response.json()
    assert settlement["transaction_id"] is not None
    assert {key: settlement[key] for key in ("transaction_key", "psp_ref", "status", "receipt_id", "vat_number")} == {
        "transaction_key": transaction.transaction_id,
        "psp_ref": "PSP-REF-1",
        "status": "Settled",
        "receipt_id": "R-1",
        "vat_number": "NL123456789B01",
    }
    assert float(settlement["amount"]) == 7.35 and settlement["settled_at"].startswith("2026-03-02T11:00:00")
    [event] = live.events("settlement")
    assert (event["settlement_id"], event["transaction_id"], event["status"]) == (
        settlement["id"],
        settlement["transaction_id"],
        "Settled",
    )
    unknown = await http.get("/api/admin/chargers/NO-SUCH-CHARGER/settlements", headers=staff)
    assert unknown.status_code == 404


@pytest.mark.parametrize("amount", ["1e13", "-1e13", "NaN", "Infinity"])
async def test_a_settlement_amount_csms_cannot_keep_is_refused(server: RunningServer, amount: str) -> None:
    settlement = '{"pspRef": "P", "status": "Settled", "settlementTime": "2026-03-02T11:00:00Z", "settlementAmount": '
    async with raw_station(server) as websocket:
        answer = await exchange(websocket, f'[2, "n-1", "NotifySettlement", {settlement}{amount}}}]')
    assert answer[:3] == [4, "n-1", "PropertyConstraintViolation"], answer


async def test_a_card_paid_at_the_terminal_after_plug_in_is_accepted(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    # The station begins on plug-in; the driver pays by card at its terminal, whose reference follows.
    async with station21(server) as station:
        assert (await station.authorize("PSP-REF-2", "DirectPayment")).id_token_info == {"status": "Accepted"}
        transaction = station.new_transaction(1)
        started = await station.transaction_event(transaction, "Started", "CablePluggedIn", energy_wh=100)
        assert started.id_token_info is None
        transaction.id_token = {"idToken": "PSP-REF-2", "type": "DirectPayment"}
        paid = await station.transaction_event(
            transaction, "Updated", "Authorized", with_token=True, charging_state="Charging"
        )
        assert paid.id_token_info == {"status": "Accepted"}
        await station.transaction_event(transaction, "Ended", "EVCommunicationLost", energy_wh=1_300)

    async def of_the_station() -> list[dict[str, Any]]:
        response = await http.get("/api/admin/transactions", headers=staff, params={"charge_point_id": station.id})
        assert response.status_code == 200, response.text
        return [record for record in response.json() if record["charge_point_id"] == station.id]

    [record] = await poll(of_the_station, until=lambda found: bool(found) and not found[0]["is_active"])
    assert (record["transaction_key"], record["energy_wh"], record["user_id"]) == (
        transaction.transaction_id,
        1_200,
        None,
    )


HASH_DATA = {"hashAlgorithm": "SHA256", "issuerNameHash": "a1", "issuerKeyHash": "b2", "serialNumber": "01"}
BATTERY = {"evseId": 1, "serialNumber": "BAT-1", "soC": 80.0, "soH": 95.0}


@pytest.mark.parametrize(
    ("action", "payload", "answer"),
    [
        (
            "BatterySwap",
            {
                "eventType": "BatteryIn",
                "requestId": 1,
                "idToken": {"idToken": "T-1", "type": "ISO14443"},
                "batteryData": [BATTERY],
            },
            {},
        ),
        ("NotifyDERAlarm", {"controlType": "FixedPFAbsorb", "timestamp": "2026-03-02T10:00:00Z"}, {}),
        ("NotifyDERStartStop", {"controlId": "der-1", "started": True, "timestamp": "2026-03-02T10:00:00Z"}, {}),
        ("ReportDERControl", {"requestId": 3}, {}),
        ("NotifyPriorityCharging", {"transactionId": "tx-1", "activated": True}, {}),
        ("PullDynamicScheduleUpdate", {"chargingProfileId": 4}, {"status": "Rejected"}),
        ("ClosePeriodicEventStream", {"id": 1}, {}),
        (
            "OpenPeriodicEventStream",
            {"constantStreamData": {"id": 1, "variableMonitoringId": 2, "params": {"interval": 10, "values": 5}}},
            {"status": "Accepted"},
        ),
        (
            "VatNumberValidation",
            {"vatNumber": "NL123456789B01", "evseId": 1},
            {
                "vatNumber": "NL123456789B01",
                "evseId": 1,
                "status": "Rejected",
                "statusInfo": {"reasonCode": "NotSupported", "additionalInfo": "csms does not validate VAT numbers"},
            },
        ),
    ],
)
async def test_a_21_message_csms_takes_no_action_on_is_answered_validly_kept_and_shown(
    server: RunningServer,
    http: httpx.AsyncClient,
    staff: dict[str, str],
    action: str,
    payload: dict[str, Any],
    answer: dict[str, Any],
) -> None:
    tokens = await login_as(http, (await create_account_with_role(server, "admin"))[0])
    async with raw_station(server) as websocket, live_stream(server.http_url, tokens) as live:
        station_id = station_id_of(websocket)
        got = await exchange(websocket, json.dumps([2, "m-1", action, payload]))
        assert got == [3, "m-1", answer]
        OCPP21.schemas.check_response(action, got[2])
        await wait_until(lambda: live.events("station_message"))
    [event] = live.events("station_message")
    assert (event["charge_point_id"], event["action"], event["payload"]) == (station_id, action, payload)
    frames = await poll(
        lambda: logged_frames(http, staff, station_id),
        until=lambda found: {("in", action), ("out", action)} <= {(f["direction"], f["action"]) for f in found},
    )
    assert {f["ocpp_version"] for f in frames} == {"2.1"}


async def test_a_certificate_chain_status_is_answered_unknown_per_certificate(server: RunningServer) -> None:
    requests = [{"certificateHashData": HASH_DATA, "source": "OCSP", "urls": ["http://ocsp.example"]}]
    async with raw_station(server) as websocket:
        got = await exchange(
            websocket, json.dumps([2, "c-1", "GetCertificateChainStatus", {"certificateStatusRequests": requests}])
        )
    assert got[:2] == [3, "c-1"]
    [status] = got[2]["certificateStatus"]
    assert (status["certificateHashData"], status["source"], status["status"]) == (HASH_DATA, "OCSP", "Unknown")
    OCPP21.schemas.check_response("GetCertificateChainStatus", got[2])


# -- I Tariffs through the operator's generic call --------------------------------------------------

TARIFF = {
    "tariffId": "T-2026",
    "currency": "EUR",
    "energy": {"prices": [{"priceKwh": 0.3}], "taxRates": [{"type": "VAT", "tax": 21.0}]},
}


@pytest.mark.parametrize(
    ("action", "payload", "answer"),
    [
        ("SetDefaultTariff", {"evseId": 0, "tariff": TARIFF}, {"status": "Accepted"}),
        ("GetTariffs", {"evseId": 0}, {"status": "NoTariff"}),
        ("ClearTariffs", {"tariffIds": ["T-2026"]}, {"clearTariffsResult": [{"status": "NoTariff"}]}),
        ("ChangeTransactionTariff", {"transactionId": "tx-1", "tariff": TARIFF}, {"status": "Accepted"}),
    ],
)
async def test_the_operator_sends_a_tariff_call_to_a_21_station(
    server: RunningServer,
    http: httpx.AsyncClient,
    staff: dict[str, str],
    action: str,
    payload: dict[str, Any],
    answer: dict[str, Any],
) -> None:
    async with station21(server) as station:
        response = await http.post(f"/api/admin/chargers/{station.id}/ocpp/{action}", json=payload, headers=staff)
        assert response.status_code == 200, response.text
        assert response.json() == answer
        assert station.calls_received(action) == [payload]


async def test_a_tariff_call_breaking_the_21_schema_or_to_a_201_station_is_refused_unsent(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    async with station21(server) as station:
        broken = await http.post(
            f"/api/admin/chargers/{station.id}/ocpp/SetDefaultTariff",
            json={"evseId": 0, "tariff": {"tariffId": "T"}},
            headers=staff,
        )
        assert broken.status_code == 422 and "currency" in broken.json()["detail"], broken.text
    assert station.calls_received("SetDefaultTariff") == []
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station201:
        assert (await station201.boot()).status == "Accepted"
        of_21 = await http.post(
            f"/api/admin/chargers/{station_id}/ocpp/SetDefaultTariff",
            json={"evseId": 0, "tariff": TARIFF},
            headers=staff,
        )
    assert of_21.status_code == 422, of_21.text
    assert of_21.json()["detail"] == "SetDefaultTariff is an OCPP 2.1 call; this charger speaks OCPP 2.0.1"


async def create_tariff(http: httpx.AsyncClient, staff: dict[str, str], **prices: str) -> int:
    tariff = {"name": "Public AC", "currency": "EUR", "tax_rate": "0.21", **prices}
    created = await http.post("/api/admin/tariffs", json=tariff, headers=staff)
    assert created.status_code == 201, created.text
    tariff_id: int = created.json()["id"]
    return tariff_id


async def test_the_operator_keeps_a_csms_tariff_on_a_21_station(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tariff_id = await create_tariff(http, staff, price_per_kwh="0.39", session_fee="1.50")
    async with station21(server) as station:
        response = await http.post(
            f"/api/admin/chargers/{station.id}/default_tariff", json={"tariff_id": tariff_id}, headers=staff
        )
        assert response.status_code == 200 and response.json() == {"status": "Accepted"}, response.text
    vat = [{"type": "VAT", "tax": 21}]
    assert station.calls_received("SetDefaultTariff") == [
        {
            "evseId": 0,
            "tariff": {
                "tariffId": f"csms-{tariff_id}",
                "currency": "EUR",
                "description": [{"format": "UTF8", "content": "Public AC"}],
                "energy": {"prices": [{"priceKwh": 0.39}], "taxRates": vat},
                "fixedFee": {"prices": [{"priceFixed": 1.5}], "taxRates": vat},
            },
        }
    ]


async def test_a_csms_tariff_for_a_station_that_keeps_none_is_refused_unsent(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    tariff_id = await create_tariff(http, staff, price_per_kwh="0.39")
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        assert (await station.boot()).status == "Accepted"
        refused = await http.post(
            f"/api/admin/chargers/{station_id}/default_tariff", json={"tariff_id": tariff_id}, headers=staff
        )
        unknown = await http.post(
            f"/api/admin/chargers/{station_id}/default_tariff", json={"tariff_id": 999_999}, headers=staff
        )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        "SetDefaultTariff cannot be sent to an OCPP 2.0.1 charger: OCPP 2.0.1 keeps no tariffs on the station (2.1 does)"
    )
    assert unknown.status_code == 404, unknown.text
    assert station.received == []


# -- csms's own calls, spelled for 2.1 --------------------------------------------------------------


def test_every_command_csms_spells_is_a_valid_21_call() -> None:
    """csms spells its commands for 2.1 as for 2.0.1, and its tariff: each one passes the 2.1 request schema."""
    now = utc_now()
    commands: list[ChargerCommand] = [
        RemoteStart(id_token="TAG-1", connector_id=1, remote_start_id=7, id_token_type="Central"),
        RemoteStop(transaction_id=3, transaction_key="tx-1"),
        SendLocalList(
            2,
            "Full",
            (ListedToken("TAG-1", "Accepted", now, "GROUP-1", "ISO14443"), ListedToken("TAG-2", id_token_type="Local")),
        ),
        GetLocalListVersion(),
        ReserveNow(
            reservation_id=5,
            connector_id=1,
            id_token="TAG-1",
            expires_at=now,
            group_id_token="GROUP-1",
            id_token_type="ISO14443",
        ),
        CancelReservation(5),
        UpdateFirmware(
            request_id=9,
            location="https://files.example/fw.bin",
            retrieve_at=now,
            retries=3,
            retry_interval=60,
            signing_certificate="-----BEGIN CERTIFICATE-----",
            signature="c2ln",
        ),
        UploadLog(request_id=10, location="https://files.example/up", oldest=now, latest=now, retries=1),
        ChangePassword("a-new-password-of-16+"),
        SetDefaultTariff(
            evse_id=1,
            tariff_id="csms-1",
            name="Every price",
            currency="EUR",
            price_per_kwh="0.3900",
            price_per_charging_minute="0.0500",
            price_per_idle_minute="0.1000",
            session_fee="1.0000",
            tax_rate="0.2000",
        ),
    ]
    for command in commands:
        action, payload = v21_commands.spell(command)
        OCPP21.schemas.check_request(action, payload)


async def test_the_message_log_keeps_a_21_station_s_frames_with_its_version(
    server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    async with station21(server) as station:
        await station.heartbeat()
        reset = await http.post(
            f"/api/admin/chargers/{station.id}/ocpp/Reset", json={"type": "Immediate"}, headers=staff
        )
        assert reset.status_code == 200 and reset.json() == {"status": "Accepted"}, reset.text
    frames = await poll(
        lambda: logged_frames(http, staff, station.id),
        until=lambda found: ("out", "Reset") in {(f["direction"], f["action"]) for f in found},
    )
    assert {f["ocpp_version"] for f in frames} == {"2.1"}
