"""Signed meter values are kept as the charger sent them, beside the readings csms counts energy from:
1.6's SignedData values (the value is the signed blob, often hundreds of characters) and 2.0.1's
signedMeterValue objects; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import httpx
from ocpp.v16 import call
from ocpp.v201 import call as call201

from csms.simulator.charger import connect_charger
from csms.simulator.station201 import StationTransaction, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, signup
from tests.support.waiting import poll

REGISTER = "Energy.Active.Import.Register"
# What an OCMF-signing meter sends: a few hundred characters of signed data.
SIGNED_BLOB = "OCMF|" + base64.b64encode(secrets.token_bytes(300)).decode()


async def finished_record(http: httpx.AsyncClient, tokens: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        response = await http.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))
        record: dict[str, Any] = response.json()
        return record

    return await poll(read, until=lambda record: not record["is_active"] and record["meter_values"])


async def test_a_16_signed_data_value_is_kept_whole_beside_the_plain_reading(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    charger_id = await server.add_charger()
    sample = {
        "timestamp": "2026-03-02T10:10:00Z",
        "sampledValue": [
            {"value": "1800", "measurand": REGISTER, "unit": "Wh"},
            {"value": SIGNED_BLOB, "measurand": REGISTER, "unit": "Wh", "format": "SignedData"},
        ],
    }
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, tokens["idTag"], meter_start=1_000)
        answer = await charger.call(
            call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[sample]),
            suppress=False,
        )
        assert answer is not None  # a CallResult: csms took the whole message
        await charger.stop_transaction(started.transaction_id, 2_500)

    record = await finished_record(http, tokens, started.transaction_id)
    assert record["energy_wh"] == 1_500  # counted from the plain readings, never from the signed data
    assert [(value["value"], value["format"]) for value in record["meter_values"]] == [
        ("1800", None),
        (SIGNED_BLOB, "SignedData"),
    ]


async def test_a_201_signed_meter_value_is_kept_as_sent(server: RunningServer, http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    station_id = await server.add_charger()
    signed = {
        "signedMeterData": SIGNED_BLOB,
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": base64.b64encode(secrets.token_bytes(64)).decode(),
    }
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        transaction = station.new_transaction(1, {"idToken": tokens["idTag"], "type": "Central"})
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=1_000)
        reading = {"value": 1_800, "measurand": REGISTER, "signedMeterValue": signed}
        # A unit 2.0.1 allows (free text, up to 20 characters) beside it.
        voltage = {"value": 229.5, "measurand": "Voltage", "unitOfMeasure": {"unit": "VoltsMeasuredPhaseL1"}}
        await station.call(
            station_event(transaction, [{"timestamp": "2026-03-02T10:10:00Z", "sampledValue": [reading, voltage]}]),
            suppress=False,
        )
        await station.transaction_event(transaction, "Ended", "StopAuthorized", energy_wh=2_500)

    records = (await http.get("/api/transactions", headers=bearer(tokens))).json()
    record = await finished_record(http, tokens, records[0]["id"])
    assert record["energy_wh"] == 1_500
    kept = [value for value in record["meter_values"] if value["signed_meter_value"] is not None]
    assert [(value["value"], value["signed_meter_value"]) for value in kept] == [("1800", signed)]
    units = {value["measurand"]: value["unit"] for value in record["meter_values"]}
    assert units["Voltage"] == "VoltsMeasuredPhaseL1"


def station_event(transaction: StationTransaction, meter_value: list[dict[str, Any]]) -> Any:
    """An Updated TransactionEvent carrying `meter_value` as given (the simulator's own carries plain readings)."""
    seq_no = transaction.next_seq_no
    transaction.next_seq_no += 1
    return call201.TransactionEvent(
        event_type="Updated",
        timestamp="2026-03-02T10:10:00Z",
        trigger_reason="MeterValuePeriodic",
        seq_no=seq_no,
        transaction_info={"transactionId": transaction.transaction_id},
        meter_value=meter_value,
    )
