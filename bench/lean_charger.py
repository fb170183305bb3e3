"""A lean simulated OCPP 1.6J charger for load: raw `websockets`, hand-built frames, one call at a time.

The `ocpp` package's ChargePoint validates and converts every payload; a load generator that did
the same would spend its core measuring itself, so frames are written and read as plain JSON here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from load_stats import LatencyBook

CALL_TIMEOUT = 30.0
CONNECTOR_ID = 1
OCPP16 = Subprotocol("ocpp1.6")
UNKNOWN_ID_TAG = "BENCH-TAG"  # unknown to csms: answered Invalid, but the transaction is still recorded
_CALL, _CALL_RESULT, _CALL_ERROR = 2, 3, 4


class CallFailed(Exception):
    """The call got no usable answer; the reason is already in the book."""


def ocpp_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LeanCharger:
    charge_point_id: str
    connection: ClientConnection
    book: LatencyBook
    message_count: int = 0
    transaction_id: int | None = None
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


async def connect_charger(
    *, port: int, charge_point_id: str, password: str, book: LatencyBook, compression: str | None
) -> LeanCharger:
    credentials = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    connection = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=[OCPP16],
        additional_headers={"Authorization": f"Basic {credentials}"},
        compression=compression,
        proxy=None,
        open_timeout=120,
        ping_interval=None,
        close_timeout=1,
    )
    return LeanCharger(charge_point_id, connection, book)


# -- what a charger sends ---------------------------------------------------------------------

Step = Callable[[LeanCharger], tuple[str, dict[str, Any]]]


def boot_notification(_charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    return "BootNotification", {
        "chargePointVendor": "csms-bench",
        "chargePointModel": "LeanCharger",
        "firmwareVersion": "1.0.0",
    }


def heartbeat(_charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    return "Heartbeat", {}


def _status(connector_id: int, status: str) -> Step:
    def step(_charger: LeanCharger) -> tuple[str, dict[str, Any]]:
        return "StatusNotification", {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ocpp_timestamp(),
        }

    return step


def authorize(_charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    return "Authorize", {"idTag": UNKNOWN_ID_TAG}


def start_transaction(charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    return "StartTransaction", {
        "connectorId": CONNECTOR_ID,
        "idTag": UNKNOWN_ID_TAG,
        "meterStart": charger.meter_wh,
        "timestamp": ocpp_timestamp(),
    }


def meter_values(charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    charger.meter_wh += 125
    sample = {
        "timestamp": ocpp_timestamp(),
        "sampledValue": [
            {"value": str(charger.meter_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }
    payload: dict[str, Any] = {"connectorId": CONNECTOR_ID, "meterValue": [sample]}
    if charger.transaction_id is not None:
        payload["transactionId"] = charger.transaction_id
    return "MeterValues", payload


def stop_transaction(charger: LeanCharger) -> tuple[str, dict[str, Any]]:
    transaction_id, charger.transaction_id = charger.transaction_id, None
    return "StopTransaction", {
        "transactionId": transaction_id if transaction_id is not None else 0,
        "meterStop": charger.meter_wh,
        "timestamp": ocpp_timestamp(),
        "reason": "Local",
    }


status_available = _status(CONNECTOR_ID, "Available")
status_charging = _status(CONNECTOR_ID, "Charging")
BOOT_SEQUENCE: tuple[Step, ...] = (boot_notification, _status(0, "Available"), status_available)

# One charging session: 15 calls, two thirds of them MeterValues and Heartbeats inside the transaction.
TRANSACTION_CYCLE: tuple[Step, ...] = (
    authorize,
    start_transaction,
    status_charging,
    *(meter_values,) * 4,
    heartbeat,
    *(meter_values,) * 4,
    heartbeat,
    stop_transaction,
    status_available,
)


async def send_step(charger: LeanCharger, step: Step) -> None:
    action, payload = step(charger)
    answer = await charger.call(action, payload)
    if action == "StartTransaction":
        charger.transaction_id = int(answer["transactionId"])
