"""A lean simulated OCPP charger for load: raw `websockets`, hand-built frames, one call at a time.

The `ocpp` package's ChargePoint validates and converts every payload; a load generator that did
the same would spend its core measuring itself, so frames are written and read as plain JSON here.
What differs between OCPP 1.6J and 2.0.1 is only what a charger says (`Messages16`, `Messages201`;
2.1 says what 2.0.1 does, `Messages21`); the call, its answer check and the shape of a charging session
(`boot_sequence`, `transaction_cycle`) are the same for all.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from load_stats import LatencyBook

CALL_TIMEOUT = 30.0
CONNECTOR_ID = 1  # 1.6: the connector; 2.0.1: EVSE 1 with its connector 1
UNKNOWN_ID_TAG = "BENCH-TAG"  # unknown to csms: answered Invalid, but the transaction is still recorded
ENERGY_REGISTER = "Energy.Active.Import.Register"
_CALL, _CALL_RESULT, _CALL_ERROR = 2, 3, 4

Frame = tuple[str, dict[str, Any]]


class CallFailed(Exception):
    """The call got no usable answer; the reason is already in the book."""


def ocpp_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LeanCharger:
    charge_point_id: str
    connection: ClientConnection
    book: LatencyBook
    messages: Messages = field(repr=False)
    message_count: int = 0
    # The running transaction: csms's id (1.6) or the charger's own (2.0.1), None between sessions.
    transaction_id: int | str | None = None
    transactions_begun: int = 0
    seq_no: int = 0  # 2.0.1: the next TransactionEvent's number within the transaction
    meter_wh: int = 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.message_count += 1
        unique_id = str(self.message_count)
        frame = json.dumps([_CALL, unique_id, action, payload], separators=(",", ":"))
        started = time.perf_counter()
        async with asyncio.timeout(CALL_TIMEOUT):
            await self.connection.send(frame)
            raw = await self.connection.recv()
        elapsed = time.perf_counter() - started
        answer = json.loads(raw)
        if answer[0] == _CALL_RESULT and answer[1] == unique_id:
            self.book.record(action, elapsed)
            return dict(answer[2])
        kind = f"{action}: {answer[2]}" if answer[0] == _CALL_ERROR else f"{action}: unexpected frame"
        self.book.record_error(kind)
        raise CallFailed(kind)


# -- what a charger sends, per version ----------------------------------------------------------

Step = Callable[[LeanCharger], Frame]


class Messages(Protocol):
    """One OCPP version's frames for the steps of a charger's life; each step builds the next call."""

    name: str
    subprotocol: Subprotocol

    def boot_notification(self, charger: LeanCharger) -> Frame: ...
    def status_available(self, charger: LeanCharger) -> Frame: ...
    def status_charging(self, charger: LeanCharger) -> Frame: ...
    def heartbeat(self, charger: LeanCharger) -> Frame: ...
    def authorize(self, charger: LeanCharger) -> Frame: ...
    def start_transaction(self, charger: LeanCharger) -> Frame: ...
    def transaction_meter_values(self, charger: LeanCharger) -> Frame: ...
    def meter_values(self, charger: LeanCharger) -> Frame: ...
    def stop_transaction(self, charger: LeanCharger) -> Frame: ...
    def read_answer(self, charger: LeanCharger, action: str, answer: dict[str, Any]) -> None: ...
    def boot_sequence(self) -> tuple[Step, ...]: ...


def transaction_cycle(messages: Messages) -> tuple[Step, ...]:
    """One charging session: 15 calls, two thirds of them meter values and Heartbeats inside it."""
    return (
        messages.authorize,
        messages.start_transaction,
        messages.status_charging,
        *(messages.transaction_meter_values,) * 4,
        messages.heartbeat,
        *(messages.transaction_meter_values,) * 3,
        messages.meter_values,
        messages.heartbeat,
        messages.stop_transaction,
        messages.status_available,
    )


def _next_reading(charger: LeanCharger) -> int:
    charger.meter_wh += 125
    return charger.meter_wh


class Messages16:
    """OCPP 1.6J: a transaction is csms's number; meter values inside it name it."""

    name = "1.6"
    subprotocol = Subprotocol("ocpp1.6")

    def boot_notification(self, _charger: LeanCharger) -> Frame:
        return "BootNotification", {
            "chargePointVendor": "csms-bench",
            "chargePointModel": "LeanCharger",
            "firmwareVersion": "1.0.0",
        }

    def boot_sequence(self) -> tuple[Step, ...]:
        return (self.boot_notification, self.status_station, self.status_available)

    @staticmethod
    def _status(connector_id: int, status: str) -> Frame:
        return "StatusNotification", {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ocpp_timestamp(),
        }

    def status_station(self, _charger: LeanCharger) -> Frame:
        return self._status(0, "Available")

    def status_available(self, _charger: LeanCharger) -> Frame:
        return self._status(CONNECTOR_ID, "Available")

    def status_charging(self, _charger: LeanCharger) -> Frame:
        return self._status(CONNECTOR_ID, "Charging")

    def heartbeat(self, _charger: LeanCharger) -> Frame:
        return "Heartbeat", {}

    def authorize(self, _charger: LeanCharger) -> Frame:
        return "Authorize", {"idTag": UNKNOWN_ID_TAG}

    def start_transaction(self, charger: LeanCharger) -> Frame:
        return "StartTransaction", {
            "connectorId": CONNECTOR_ID,
            "idTag": UNKNOWN_ID_TAG,
            "meterStart": charger.meter_wh,
            "timestamp": ocpp_timestamp(),
        }

    def meter_values(self, charger: LeanCharger) -> Frame:
        sample = {
            "timestamp": ocpp_timestamp(),
            "sampledValue": [
                {"value": str(_next_reading(charger)), "measurand": ENERGY_REGISTER, "unit": "Wh"},
                {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
            ],
        }
        payload: dict[str, Any] = {"connectorId": CONNECTOR_ID, "meterValue": [sample]}
        if charger.transaction_id is not None:
            payload["transactionId"] = charger.transaction_id
        return "MeterValues", payload

    transaction_meter_values = meter_values  # 1.6 has one message for both

    def stop_transaction(self, charger: LeanCharger) -> Frame:
        transaction_id, charger.transaction_id = charger.transaction_id, None
        return "StopTransaction", {
            "transactionId": transaction_id if transaction_id is not None else 0,
            "meterStop": charger.meter_wh,
            "timestamp": ocpp_timestamp(),
            "reason": "Local",
        }

    def read_answer(self, charger: LeanCharger, action: str, answer: dict[str, Any]) -> None:
        if action == "StartTransaction":
            charger.transaction_id = int(answer["transactionId"])


class Messages201:
    """OCPP 2.0.1: the station names its transaction and reports it as numbered TransactionEvents
    (Started, Updated with meter values, Ended); MeterValues carries readings outside that stream."""

    name = "2.0.1"
    subprotocol = Subprotocol("ocpp2.0.1")
    _evse: ClassVar = {"id": CONNECTOR_ID, "connectorId": CONNECTOR_ID}
    _id_token: ClassVar = {"idToken": UNKNOWN_ID_TAG, "type": "ISO14443"}

    def boot_notification(self, _charger: LeanCharger) -> Frame:
        station = {"model": "LeanCharger", "vendorName": "csms-bench", "firmwareVersion": "1.0.0"}
        return "BootNotification", {"chargingStation": station, "reason": "PowerUp"}

    def boot_sequence(self) -> tuple[Step, ...]:
        return (self.boot_notification, self.status_available)  # one EVSE: 2.0.1 has no station status

    @staticmethod
    def _status(status: str) -> Frame:
        return "StatusNotification", {
            "timestamp": ocpp_timestamp(),
            "connectorStatus": status,
            "evseId": CONNECTOR_ID,
            "connectorId": CONNECTOR_ID,
        }

    def status_available(self, _charger: LeanCharger) -> Frame:
        return self._status("Available")

    def status_charging(self, _charger: LeanCharger) -> Frame:
        return self._status("Occupied")

    def heartbeat(self, _charger: LeanCharger) -> Frame:
        return "Heartbeat", {}

    def authorize(self, _charger: LeanCharger) -> Frame:
        return "Authorize", {"idToken": self._id_token}

    @staticmethod
    def _meter_value(reading_wh: int, context: str, *, power_w: int | None = None) -> list[dict[str, Any]]:
        sampled = [_sampled_value(reading_wh, ENERGY_REGISTER, "Wh", context)]
        if power_w is not None:
            sampled.append(_sampled_value(power_w, "Power.Active.Import", "W", context))
        return [{"timestamp": ocpp_timestamp(), "sampledValue": sampled}]

    def _transaction_event(
        self,
        charger: LeanCharger,
        event_type: str,
        trigger_reason: str,
        *,
        info: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Frame:
        info = {"transactionId": charger.transaction_id, **(info or {})}
        seq_no, charger.seq_no = charger.seq_no, charger.seq_no + 1
        return "TransactionEvent", {
            "eventType": event_type,
            "timestamp": ocpp_timestamp(),
            "triggerReason": trigger_reason,
            "seqNo": seq_no,
            "transactionInfo": info,
            **fields,
        }

    def start_transaction(self, charger: LeanCharger) -> Frame:
        charger.transactions_begun += 1
        charger.transaction_id = f"{charger.charge_point_id}-{charger.transactions_begun}"
        charger.seq_no = 0
        return self._transaction_event(
            charger,
            "Started",
            "Authorized",
            info={"chargingState": "Charging"},
            evse=self._evse,
            idToken=self._id_token,
            meterValue=self._meter_value(charger.meter_wh, "Transaction.Begin"),
        )

    def transaction_meter_values(self, charger: LeanCharger) -> Frame:
        reading = self._meter_value(_next_reading(charger), "Sample.Periodic", power_w=7400)
        return self._transaction_event(charger, "Updated", "MeterValuePeriodic", meterValue=reading)

    def meter_values(self, charger: LeanCharger) -> Frame:
        reading = self._meter_value(_next_reading(charger), "Sample.Periodic", power_w=7400)
        return "MeterValues", {"evseId": CONNECTOR_ID, "meterValue": reading}

    def stop_transaction(self, charger: LeanCharger) -> Frame:
        frame = self._transaction_event(
            charger,
            "Ended",
            "EVDeparted",
            info={"stoppedReason": "EVDisconnected"},
            meterValue=self._meter_value(charger.meter_wh, "Transaction.End"),
        )
        charger.transaction_id = None
        return frame

    def read_answer(self, charger: LeanCharger, action: str, answer: dict[str, Any]) -> None:
        pass  # the station names its transactions: nothing in an answer changes what it sends next


def _sampled_value(value: int, measurand: str, unit: str, context: str) -> dict[str, Any]:
    return {"value": value, "measurand": measurand, "context": context, "unitOfMeasure": {"unit": unit}}


class Messages21(Messages201):
    """OCPP 2.1: the same messages as 2.0.1 (none of these gained a required field), on `ocpp2.1`."""

    name = "2.1"
    subprotocol = Subprotocol("ocpp2.1")


OCPP16 = Messages16()
OCPP201 = Messages201()
OCPP21 = Messages21()
VERSIONS: dict[str, Messages] = {OCPP16.name: OCPP16, OCPP201.name: OCPP201, OCPP21.name: OCPP21}


async def connect_charger(
    *,
    port: int,
    charge_point_id: str,
    password: str,
    book: LatencyBook,
    compression: str | None,
    messages: Messages = OCPP16,
) -> LeanCharger:
    credentials = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    connection = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=[messages.subprotocol],
        additional_headers={"Authorization": f"Basic {credentials}"},
        compression=compression,
        proxy=None,
        open_timeout=120,
        ping_interval=None,
        close_timeout=1,
    )
    if connection.subprotocol != messages.subprotocol:
        connection.transport.abort()
        raise ConnectionRefusedError(f"csms did not accept {messages.subprotocol} ({connection.subprotocol})")
    return LeanCharger(charge_point_id, connection, book, messages)


async def send_step(charger: LeanCharger, step: Step) -> None:
    action, payload = step(charger)
    answer = await charger.call(action, payload)
    charger.messages.read_answer(charger, action, answer)
