"""OCPI 2.2.1 commands with csms as the RECEIVER, against an eMSP peer of its own (tests/support/ocpi_peer.py) and
simulated chargers of both OCPP versions: the peer sends START_SESSION, STOP_SESSION and UNLOCK_CONNECTOR for an
EVSE csms publishes, gets csms's CommandResponse at once and the charger's answer as a CommandResult at its
response_url. The peer checks both by the spec's field rules and fails the test on any rule broken."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.v201 import call_result
from sqlalchemy import select

from csms.db.models import OcpiTransactionToken, Transaction
from csms.simulator.charger import ChargerBehaviour
from csms.simulator.station201 import StationBehaviour
from tests.conftest import (
    RunningServer,
    settings_for,
    start_server,
    stop_server,
)
from tests.operating import booted_station, online_charger, payloads_received
from tests.support.ocpi_peer import EmspPeer, Seen
from tests.support.ocpi_setup import OWN, StartPeer, admin_client, database, peers, register
from tests.support.waiting import poll, wait_until

__all__ = ["database", "peers"]  # fixtures of tests/support/ocpi_setup.py

CALL_TIMEOUT = 2.0  # ocpp_call_timeout of the node under test: a silent charger times out quickly
PLACE = {
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "country": "NLD",
    "latitude": 52.3789,
    "longitude": 4.9003,
    "time_zone": "Europe/Amsterdam",
    "opening_times": {"twentyfourseven": True},
}


@pytest.fixture(scope="module")
async def server(database: str) -> AsyncIterator[RunningServer]:
    handle, task, running = await start_server(settings_for(database, **OWN, ocpp_call_timeout=CALL_TIMEOUT))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server) as client:
        yield client


class Emsp:
    """A registered peer and csms's commands endpoint."""

    def __init__(self, peer: EmspPeer, endpoints: dict[str, str]) -> None:
        self.peer, self.commands_url = peer, endpoints["commands"]

    async def send(self, command: str, **fields: Any) -> tuple[str, httpx.Response]:
        """The command with a response_url of its own; the key that names its results."""
        key = secrets.token_hex(6)
        body = {"response_url": self.peer.response_url(command, key), **fields}
        return key, await self.peer.send_command(self.commands_url, command, body)

    async def result(self, key: str) -> dict[str, Any]:
        await wait_until(lambda: key in self.peer.command_results)
        seen: Seen = self.peer.command_results[key][0]
        assert isinstance(seen.body, dict)
        return seen.body


@pytest.fixture
async def emsp(admin: httpx.AsyncClient, peers: StartPeer) -> Emsp:
    peer = await peers(receives=())  # it takes no locations or tariffs: commands only
    return Emsp(peer, await register(admin, peer))


async def _publish(admin: httpx.AsyncClient, charge_point_id: str) -> str:
    """A location with the charger on it; its id."""
    response = await admin.post("/api/admin/ocpi/locations", json={**PLACE, "charge_point_ids": [charge_point_id]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _response(response: httpx.Response) -> dict[str, Any]:
    assert (response.status_code, response.json()["status_code"]) == (200, 1000), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _start(emsp: Emsp, uid: str, location_id: str, evse_uid: str, **fields: Any) -> dict[str, Any]:
    token = emsp.peer.token(uid, type="APP_USER", whitelist="NEVER")
    return {"token": token, "location_id": location_id, "evse_uid": evse_uid, **fields}


async def _roaming_record(server: RunningServer, transaction_id: int) -> OcpiTransactionToken | None:
    async with server.app_runtime.session_factory() as session:
        query = select(OcpiTransactionToken).where(OcpiTransactionToken.transaction_id == transaction_id)
        return (await session.execute(query)).scalar_one_or_none()


async def _station_record(server: RunningServer, charge_point_id: str) -> OcpiTransactionToken | None:
    async with server.app_runtime.session_factory() as session:
        query = (
            select(OcpiTransactionToken)
            .join(Transaction, Transaction.id == OcpiTransactionToken.transaction_id)
            .where(Transaction.charge_point_id == charge_point_id)
        )
        return (await session.execute(query)).scalar_one_or_none()


async def test_start_session_starts_a_16_charger_with_the_token_and_the_result_follows(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server) as charger:
        location_id = await _publish(admin, charger.id)
        uid = secrets.token_hex(5).upper()
        key, response = await emsp.send(
            "START_SESSION", **_start(emsp, uid, location_id, f"{charger.id}-1", authorization_reference="REF-1")
        )
        answer = _response(response)
        assert answer["result"] == "ACCEPTED" and answer["timeout"] >= CALL_TIMEOUT
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert payloads_received(charger, "RemoteStartTransaction") == [{"idTag": uid, "connectorId": 1}]
        # The charger starts for the token: the command authorized it, the charge is the eMSP's.
        started = await charger.start_transaction(1, uid)
        assert started.id_tag_info["status"] == "Accepted"
        record = await _roaming_record(server, started.transaction_id)
        assert record is not None
        assert (record.party_id, record.uid, record.token_type) == (emsp.peer.party_id, uid, "APP_USER")
        assert (record.auth_method, record.authorization_reference) == ("COMMAND", "REF-1")
        assert emsp.peer.authorizations == []  # no real-time authorization: the command was it

        # STOP_SESSION names the charge by its session_id, csms's transaction id.
        stop_key, stop = await emsp.send("STOP_SESSION", session_id=str(started.transaction_id))
        assert _response(stop)["result"] == "ACCEPTED"
        assert (await emsp.result(stop_key))["result"] == "ACCEPTED"
        assert payloads_received(charger, "RemoteStopTransaction") == [{"transactionId": started.transaction_id}]


async def test_a_charge_started_by_command_reaches_its_emsp_as_session_and_cdr(
    server: RunningServer, admin: httpx.AsyncClient, peers: StartPeer
) -> None:
    peer = await peers(receives=("sessions", "cdrs"))
    emsp = Emsp(peer, await register(admin, peer))
    async with online_charger(server) as charger:
        location_id = await _publish(admin, charger.id)
        uid = secrets.token_hex(5).upper()
        key, _ = await emsp.send(
            "START_SESSION", **_start(emsp, uid, location_id, f"{charger.id}-1", authorization_reference="REF-9")
        )
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        started = await charger.start_transaction(1, uid)
        session_id = str(started.transaction_id)
        pushed = await poll(lambda: _async(peer.sessions.get(session_id)), until=lambda found: found is not None)
        assert (pushed["auth_method"], pushed["authorization_reference"]) == ("COMMAND", "REF-9")
        assert pushed["cdr_token"]["uid"] == uid and pushed["location_id"] == location_id

        stop_key, _ = await emsp.send("STOP_SESSION", session_id=session_id)
        assert (await emsp.result(stop_key))["result"] == "ACCEPTED"
        await charger.stop_transaction(started.transaction_id, 1500)
        cdrs = await poll(lambda: _async(peer.cdrs), until=lambda found: len(found) == 1)
        assert (cdrs[0]["auth_method"], cdrs[0]["authorization_reference"]) == ("COMMAND", "REF-9")


async def _async(value: Any) -> Any:
    return value


async def test_start_session_on_a_201_station_sends_request_start_transaction(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with booted_station(server) as station:
        location_id = await _publish(admin, station.id)
        uid = secrets.token_hex(10).upper()  # 20 characters and more fit a 2.x idToken
        key, response = await emsp.send("START_SESSION", **_start(emsp, uid + "AB", location_id, f"{station.id}-2"))
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        (request,) = [call.payload for call in station.received if call.action == "RequestStartTransaction"]
        assert request["id_token"] == {"id_token": uid + "AB", "type": "Central"}
        assert request["evse_id"] == 2
        # The station starts for the token: the charge is the eMSP's, authorized by the command.
        started = station.new_transaction(
            2, {"idToken": uid + "AB", "type": "Central"}, remote_start_id=request["remote_start_id"]
        )
        answer = await station.transaction_event(started, "Started", "RemoteStart")
        assert answer.id_token_info["status"] == "Accepted"
        record = await poll(lambda: _station_record(server, station.id), until=lambda found: found is not None)
        assert record is not None and (record.uid, record.auth_method) == (uid + "AB", "COMMAND")


async def test_a_charger_that_refuses_or_is_silent_gives_rejected_or_timeout(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    refusing = ChargerBehaviour(remote_start_status="Rejected")
    async with online_charger(server, refusing) as charger:
        location_id = await _publish(admin, charger.id)
        key, response = await emsp.send("START_SESSION", **_start(emsp, "CARD1", location_id, f"{charger.id}-1"))
        assert _response(response)["result"] == "ACCEPTED"
        result = await emsp.result(key)
        assert result["result"] == "REJECTED" and "Rejected" in result["message"][0]["text"]
    silent = ChargerBehaviour(answer_after=asyncio.Event())
    async with online_charger(server, silent) as charger:
        location_id = await _publish(admin, charger.id)
        key, response = await emsp.send(
            "UNLOCK_CONNECTOR", location_id=location_id, evse_uid=f"{charger.id}-1", connector_id="1"
        )
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "TIMEOUT"
        assert silent.answer_after is not None
        silent.answer_after.set()


async def test_unlock_connector_reaches_the_charger(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server, connectors=2) as charger:
        location_id = await _publish(admin, charger.id)
        key, response = await emsp.send(
            "UNLOCK_CONNECTOR", location_id=location_id, evse_uid=f"{charger.id}-2", connector_id="1"
        )
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert payloads_received(charger, "UnlockConnector") == [{"connectorId": 2}]


async def test_a_connector_in_use_or_faulted_is_refused_at_once(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server, connectors=2) as charger:
        location_id = await _publish(admin, charger.id)
        await charger.status(1, "Faulted")
        await charger.status(2, "Charging")
        for evse in (f"{charger.id}-1", f"{charger.id}-2"):
            _, response = await emsp.send("START_SESSION", **_start(emsp, "CARD2", location_id, evse))
            answer = _response(response)
            assert answer["result"] == "REJECTED" and answer["message"][0]["text"], answer
        assert payloads_received(charger, "RemoteStartTransaction") == []
        await asyncio.sleep(0.5)
        assert emsp.peer.command_results == {}


async def test_start_session_without_an_evse_picks_the_one_a_car_waits_at_and_refuses_when_none_is_free(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server, connectors=3) as charger:
        location_id = await _publish(admin, charger.id)
        await charger.status(1, "Faulted")
        await charger.status(3, "Preparing")  # a car is plugged in here and waits for its driver's start
        without_evse = {
            key: value for key, value in _start(emsp, "CARD8", location_id, "-").items() if key != "evse_uid"
        }
        key, response = await emsp.send("START_SESSION", **without_evse)
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert payloads_received(charger, "RemoteStartTransaction") == [{"idTag": "CARD8", "connectorId": 3}]
        await charger.status(2, "Charging")
        await charger.status(3, "Charging")
        _, refused = await emsp.send("START_SESSION", **without_evse)
        answer = _response(refused)
        assert answer["result"] == "REJECTED" and "no EVSE" in answer["message"][0]["text"], answer
        assert len(payloads_received(charger, "RemoteStartTransaction")) == 1


async def test_reserve_now_without_an_evse_holds_a_free_one_and_renews_the_same(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server, connectors=2) as charger:
        location_id = await _publish(admin, charger.id)
        await charger.status(1, "Charging")
        body = {
            key: value for key, value in _reserve(emsp, "CARD9", location_id, "-", "R-9").items() if key != "evse_uid"
        }
        key, response = await emsp.send("RESERVE_NOW", **body)
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        (reserve,) = payloads_received(charger, "ReserveNow")
        assert (reserve["idTag"], reserve["connectorId"]) == ("CARD9", 2)
        await charger.status(2, "Reserved")
        key, _ = await emsp.send("RESERVE_NOW", **body)  # renewed: the same EVSE, though it is no longer Available
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert [again["connectorId"] for again in payloads_received(charger, "ReserveNow")] == [2, 2]
        _, other = await emsp.send("RESERVE_NOW", **{**body, "reservation_id": "R-10"})
        answer = _response(other)
        assert answer["result"] == "REJECTED" and "can be reserved" in answer["message"][0]["text"], answer


async def test_unknown_places_sessions_and_malformed_commands_get_ocpi_answers(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server) as charger:
        location_id = await _publish(admin, charger.id)
        _, unknown_location = await emsp.send("START_SESSION", **_start(emsp, "C3", "999999", f"{charger.id}-1"))
        _, unknown_evse = await emsp.send("START_SESSION", **_start(emsp, "C3", location_id, "NOPE-1"))
        for response in (unknown_location, unknown_evse):
            assert response.json()["status_code"] == 2003, response.text
        _, session = await emsp.send("STOP_SESSION", session_id="123456789")
        assert _response(session)["result"] == "UNKNOWN_SESSION"
        malformed = [
            {"token": {"uid": "X"}, "location_id": location_id},  # a Token without its fields
            {**_start(emsp, "C4", location_id, f"{charger.id}-1"), "evse_uid": "E" * 37},  # past CiString(36)
        ]
        for body in malformed:
            _, response = await emsp.send("START_SESSION", **body)
            assert response.json()["status_code"] == 2001, response.text
        _, no_url = await emsp.send("STOP_SESSION", session_id="1", response_url="not a url")
        assert no_url.json()["status_code"] == 2001
        someone_else = {**emsp.peer.token("C5"), "party_id": "XYZ"}
        _, foreign = await emsp.send(
            "START_SESSION", token=someone_else, location_id=location_id, evse_uid=f"{charger.id}-1"
        )
        assert foreign.json()["status_code"] == 2001
    assert payloads_received(charger, "RemoteStartTransaction") == []


async def test_a_result_the_emsp_could_not_take_is_sent_again(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server) as charger:
        location_id = await _publish(admin, charger.id)
        emsp.peer.away = True
        key, response = await emsp.send(
            "UNLOCK_CONNECTOR", location_id=location_id, evse_uid=f"{charger.id}-1", connector_id="1"
        )
        assert _response(response)["result"] == "ACCEPTED"
        await poll(lambda: _attempts(emsp.peer, key), until=lambda attempts: attempts >= 1)
        emsp.peer.away = False
        assert (await emsp.result(key))["result"] == "ACCEPTED"


async def _attempts(peer: EmspPeer, key: str) -> int:
    return sum(1 for seen in peer.seen if seen.path.endswith(f"/{key}"))


def _reserve(emsp: Emsp, uid: str, location_id: str, evse_uid: str, reservation_id: str) -> dict[str, Any]:
    expiry = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = emsp.peer.token(uid)
    return {
        "token": token,
        "expiry_date": expiry,
        "reservation_id": reservation_id,
        "location_id": location_id,
        "evse_uid": evse_uid,
    }


async def test_reserve_now_holds_the_evse_for_the_token_until_cancelled(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    async with online_charger(server) as charger:
        location_id = await _publish(admin, charger.id)
        body = _reserve(emsp, "CARD6", location_id, f"{charger.id}-1", "R-6")
        key, response = await emsp.send("RESERVE_NOW", **body)
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        (reserve,) = payloads_received(charger, "ReserveNow")
        assert (reserve["idTag"], reserve["connectorId"]) == ("CARD6", 1)
        # The same reservation_id again replaces the reservation: the charger gets the same reservationId.
        key, _ = await emsp.send("RESERVE_NOW", **body)
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert [again["reservationId"] for again in payloads_received(charger, "ReserveNow")] == [
            reserve["reservationId"]
        ] * 2
        # Another reservation cannot hold the same EVSE.
        _, taken = await emsp.send("RESERVE_NOW", **{**body, "reservation_id": "R-7"})
        assert _response(taken)["result"] == "REJECTED"

        key, response = await emsp.send("CANCEL_RESERVATION", reservation_id="R-6")
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "ACCEPTED"
        assert payloads_received(charger, "CancelReservation") == [{"reservationId": reserve["reservationId"]}]
        key, _ = await emsp.send("CANCEL_RESERVATION", reservation_id="R-6")
        assert (await emsp.result(key))["result"] == "UNKNOWN_RESERVATION"
        assert len(payloads_received(charger, "CancelReservation")) == 1


async def test_an_occupied_charger_answers_reserve_now_with_evse_occupied_on_a_201_station(
    server: RunningServer, admin: httpx.AsyncClient, emsp: Emsp
) -> None:
    occupied = StationBehaviour(answers={"ReserveNow": lambda _: call_result.ReserveNow(status="Occupied")})
    async with booted_station(server, occupied) as station:
        location_id = await _publish(admin, station.id)
        key, response = await emsp.send("RESERVE_NOW", **_reserve(emsp, "CARD8", location_id, f"{station.id}-1", "R8"))
        assert _response(response)["result"] == "ACCEPTED"
        assert (await emsp.result(key))["result"] == "EVSE_OCCUPIED"
        (request,) = [call.payload for call in station.received if call.action == "ReserveNow"]
        assert request["id_token"] == {"id_token": "CARD8", "type": "ISO14443"} and request["evse_id"] == 1
