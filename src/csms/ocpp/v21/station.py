"""The CSMS side of OCPP 2.1: the 2.0.1 station's handlers, and those of the messages 2.1 adds.

2.1 keeps every 2.0.1 message csms answers with the same required fields (it adds optional ones: a
TransactionEvent's transactionInfo.transactionLimit, costDetails, ...; those are kept with the event as
the station sent it), so `Station201`'s handlers serve 2.1 unchanged. What 2.1 adds is here: ad-hoc
payment settlements are stored; the battery-swap, DER/V2X, priority-charging and periodic-stream
messages, on which csms takes no action yet, get the smallest answer their schema allows and are
announced live (their frames are in the message log, as every frame).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.ocpp.rpc import ErrorKind, Handler, Payload, RpcError
from csms.ocpp.v201.station import HANDLERS as HANDLERS_201
from csms.ocpp.v201.station import Station201
from csms.services import settlements, transactions
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp

OCPP_21 = "2.1"
STATION_NOTED = "station_message"


class Station21(Station201):
    """One 2.1 station's connection, as the handlers see it."""

    __slots__ = ()
    ocpp_version = OCPP_21

    # -- C Ad hoc payment (C18-C24) -----------------------------------------------------------

    async def notify_settlement(self, payload: Payload) -> Payload:
        """The payment terminal settled (or failed to settle) a transaction: kept, announced, answered."""
        key = payload.get("transactionId")
        settlement = settlements.Settlement(
            psp_ref=payload["pspRef"],
            status=payload["status"],
            amount=_amount(payload["settlementAmount"]),
            settled_at=_timestamp(payload["settlementTime"]),
            transaction_key=key,
            transaction_id=await self._transaction_named(key),
            reason_code=(payload.get("statusInfo") or {}).get("reasonCode"),
            receipt_id=payload.get("receiptId"),
            receipt_url=payload.get("receiptUrl"),
            vat_number=payload.get("vatNumber"),
            vat_company=_json(payload.get("vatCompany")),
        )
        async with self._session() as session:
            settlement_id = await settlements.record_settlement(session, self.id, settlement, now=self._now())
        await self._publish(
            "settlement",
            settlement_id=settlement_id,
            transaction_id=settlement.transaction_id,
            status=settlement.status,
            amount=str(settlement.amount),
        )
        return {}

    async def _transaction_named(self, key: str | None) -> int | None:
        if key is None:
            return None
        found = await transactions.find_transaction_by_key(self._runtime.engine, self.id, key)
        return found.ref.id if found is not None else None

    # -- messages csms takes no action on yet -------------------------------------------------

    async def note(self, action: str, payload: Payload) -> None:
        """A 2.1 message csms only keeps (the message log) and shows live to staff."""
        await self._publish(STATION_NOTED, action=action, payload=payload)

    async def notify_periodic_event_stream(self, payload: Payload) -> Payload:
        """A SEND of a periodic event stream (N13): shown live as its stream and number of values, not the
        values, which may come every second; they are in the message log."""
        await self._publish(
            STATION_NOTED,
            action="NotifyPeriodicEventStream",
            stream_id=payload["id"],
            values=len(payload["data"]),
            pending=payload["pending"],
        )
        return {}

    async def get_certificate_chain_status(self, payload: Payload) -> Payload:
        """csms asks no OCSP responder yet: every certificate asked about is of Unknown status (M06)."""
        await self.note("GetCertificateChainStatus", payload)
        next_update = format_ocpp_timestamp(self._now())
        statuses = [
            {
                "certificateHashData": request["certificateHashData"],
                "source": request["source"],
                "status": "Unknown",
                "nextUpdate": next_update,
            }
            for request in payload["certificateStatusRequests"]
        ]
        return {"certificateStatus": statuses}


def _noted(action: str, answer: Callable[[Payload], Payload]) -> Handler:
    """The handler of a message csms takes no action on: announced, and answered with `answer(payload)`."""

    async def handle(station: Station21, payload: Payload) -> Payload:
        await station.note(action, payload)
        return answer(payload)

    handle.__name__ = handle.__qualname__ = f"noted_{action}"
    return handle


def _empty(payload: Payload) -> Payload:
    return {}


def _rejected(payload: Payload) -> Payload:
    return {"status": "Rejected"}


def _accepted(payload: Payload) -> Payload:
    return {"status": "Accepted"}


def _vat_number_unchecked(payload: Payload) -> Payload:
    """csms validates no VAT numbers: Rejected, saying why, so the station does not take it as invalid."""
    answer: Payload = {
        "vatNumber": payload["vatNumber"],
        "status": "Rejected",
        "statusInfo": {"reasonCode": "NotSupported", "additionalInfo": "csms does not validate VAT numbers"},
    }
    if "evseId" in payload:
        answer["evseId"] = payload["evseId"]
    return answer


def _json(value: Any) -> str | None:
    return json.dumps(value, separators=(",", ":")) if value is not None else None


# What csms keeps of an amount: 12 digits before the point and 6 after (settlements.amount).
_MAX_AMOUNT = Decimal(10) ** 12
_AMOUNT_PLACES = Decimal("0.000001")


def _amount(value: Any) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite() or abs(amount) >= _MAX_AMOUNT:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, f"settlementAmount {value!r} is out of range")
    return amount.quantize(_AMOUNT_PLACES)


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise RpcError.because(ErrorKind.FORMAT, f"{value!r} is not an RFC 3339 dateTime") from None


def _noted_handlers() -> dict[str, Handler]:
    answers: dict[str, Callable[[Payload], Payload]] = {
        "BatterySwap": _empty,
        "ClosePeriodicEventStream": _empty,
        "NotifyDERAlarm": _empty,
        "NotifyDERStartStop": _empty,
        "NotifyPriorityCharging": _empty,
        # Accepted: the stream's SEND messages are then taken (and kept in the message log).
        "OpenPeriodicEventStream": _accepted,
        # csms keeps no dynamic schedule to pull.
        "PullDynamicScheduleUpdate": _rejected,
        "ReportDERControl": _empty,
        "VatNumberValidation": _vat_number_unchecked,
    }
    return {action: _noted(action, answer) for action, answer in answers.items()}


# The station's calls csms answers: 2.0.1's, and 2.1's own.
HANDLERS: dict[str, Handler] = {
    **HANDLERS_201,
    "NotifySettlement": Station21.notify_settlement,
    "GetCertificateChainStatus": Station21.get_certificate_chain_status,
    **_noted_handlers(),
}
# The station's SEND messages (OCPP-J 2.1 §4.2.5) csms takes: kept in the message log, nothing more yet.
SEND_HANDLERS: dict[str, Handler] = {"NotifyPeriodicEventStream": Station21.notify_periodic_event_stream}
