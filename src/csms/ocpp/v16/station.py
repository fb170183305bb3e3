"""The central system's side of OCPP 1.6J: the charger's calls, for one connection.

Each handler turns a 1.6 payload (camelCase, as on the wire, already checked against its schema) into
domain values, calls a service and returns the answer's payload. Handlers never await a call to the
charger: the session's receive loop waits on them.

A `Station16` also keeps what this connection taught csms (its open transactions, the connectors it
reported), so the hot paths (MeterValues, a status Available) need no database read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.ocpp.station import DATABASE_AWAY, Station
from csms.ocpp.v16 import plug_and_charge
from csms.services import (
    chargers,
    diagnostics,
    firmware,
    open_transactions,
    transactions,
)
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.id_tags import ACCEPTED, CONCURRENT_TX, IdTagInfo, authorize_id_tag
from csms.services.outage_reserves import RememberedTag

if TYPE_CHECKING:
    from csms.runtime import Runtime

logger = logging.getLogger(__name__)


class Station16(Station):
    """One 1.6 charger's connection, as the handlers see it."""

    __slots__ = (
        "_all_connectors_settled",
        "_settled_connectors",
        "_transactions",
    )

    def __init__(self, charge_point_id: str, runtime: Runtime) -> None:
        super().__init__(charge_point_id, runtime)
        # This charger's transactions seen on this connection: MeterValues link to them without a read.
        self._transactions: dict[int, transactions.TransactionRef] = {}
        # Connectors (all of them after a boot) where csms has ended what was open before, on this
        # connection: every transaction open on them since is in `_transactions`, so a status Available
        # or a start there needs no read unless one is.
        self._settled_connectors: set[int] = set()
        self._all_connectors_settled = False

    # -- Core profile ----------------------------------------------------------------------

    async def boot_notification(self, payload: Payload) -> Payload:
        boot = chargers.BootInfo(
            vendor=payload["chargePointVendor"],
            model=payload["chargePointModel"],
            serial_number=payload.get("chargePointSerialNumber"),
            charge_box_serial_number=payload.get("chargeBoxSerialNumber"),
            firmware_version=payload.get("firmwareVersion"),
            iccid=payload.get("iccid"),
            imsi=payload.get("imsi"),
            meter_type=payload.get("meterType"),
            meter_serial_number=payload.get("meterSerialNumber"),
        )
        now = self._now()
        self._end_superseded(connector_id=None, recorded_before=now)  # a 1.6 reboot ends what was open
        return await self._boot(boot, ocpp_version=chargers.OCPP_16, now=now)

    async def status_notification(self, payload: Payload) -> Payload:
        connector_id: int = payload["connectorId"]
        status: str = payload["status"]
        _require_connector(connector_id, allow_zero=True)
        now = self._now()
        timestamp = payload.get("timestamp")
        report = chargers.StatusReport(
            connector_id=connector_id,
            status=status,
            error_code=payload["errorCode"],
            timestamp=_timestamp(timestamp) if timestamp else now,
            info=payload.get("info"),
            vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"),
        )
        await chargers.record_status(self._runtime.writer, self.id, report, now=now)
        if connector_id > 0:
            self.reported_connectors.add(connector_id)
            self._note_status(report)
            if status == "Available":
                self._end_superseded(connector_id=connector_id, recorded_before=now)
        self._runtime.session_watch.status_changed(self.id, report)
        await self._publish("connector_status", connector_id=connector_id, status=status, error_code=report.error_code)
        return {}

    async def authorize(self, payload: Payload) -> Payload:
        info = await authorize_id_tag(self._runtime.tags, payload["idTag"], now=self._now(), charge_point_id=self.id)
        return {"idTagInfo": _id_tag_info(info)}

    async def start_transaction(self, payload: Payload) -> Payload:
        connector_id: int = payload["connectorId"]
        id_tag: str = payload["idTag"]
        reservation_id: int | None = payload.get("reservationId")
        _require_connector(connector_id, allow_zero=False)
        start = {
            "charge_point_id": self.id,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "meter_start": payload["meterStart"],
            "timestamp": _timestamp(payload["timestamp"]),
            "reservation_id": reservation_id,
            "now": self._now(),
        }
        runtime = self._runtime
        try:
            transaction_id = await runtime.next_transaction_id()
            started = await transactions.start_transaction(
                runtime.engine, runtime.writer, runtime.tags, transaction_id=transaction_id, **start
            )
            if reservation_id is not None:
                await self._consume_reservation(reservation_id, started.transaction.id)
        except DATABASE_UNREACHABLE:
            return await self._start_while_the_database_is_away(start)
        self._remember_start(id_tag, started)
        if not started.is_repeat:
            self._end_superseded(
                connector_id=connector_id, recorded_before=start["now"], keep_id=started.transaction.id
            )
        return await self._started(started.transaction, started.id_tag_info, start, is_repeat=started.is_repeat)

    def _end_superseded(
        self, *, connector_id: int | None, recorded_before: datetime, keep_id: int | None = None
    ) -> None:
        """End, in the background, what is still open on a connector the charger has shown free."""
        if connector_id is not None and self._is_settled(connector_id, keep_id):
            return
        work = self._close_superseded(connector_id=connector_id, recorded_before=recorded_before, keep_id=keep_id)
        self._runtime.background.spawn(work, name=f"superseded-{self.id}")

    async def _close_superseded(
        self, *, connector_id: int | None, recorded_before: datetime, keep_id: int | None
    ) -> None:
        try:
            async with self._session() as session:
                closed = await open_transactions.close_superseded(
                    session,
                    charge_point_id=self.id,
                    connector_id=connector_id,
                    recorded_before=recorded_before,
                    keep_id=keep_id,
                )
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not end superseded transactions of %s: %s", self.id, error)
            return
        if connector_id is None:
            self._all_connectors_settled = True
        else:
            self._settled_connectors.add(connector_id)
        for transaction in closed:
            # Forgotten here, so the charger's own StopTransaction, should it come, corrects the record.
            self._transactions.pop(transaction.id, None)
            await self._stopped(transaction)

    def _is_settled(self, connector_id: int, keep_id: int | None) -> bool:
        """Nothing can be open on the connector but what this connection knows, and it knows none open."""
        if not (self._all_connectors_settled or connector_id in self._settled_connectors):
            return False
        return not any(
            ref.is_open and ref.connector_id == connector_id and ref.id != keep_id
            for ref in self._transactions.values()
        )

    async def _started(
        self, ref: transactions.TransactionRef, info: IdTagInfo, start: dict[str, Any], *, is_repeat: bool = False
    ) -> Payload:
        self._transactions[ref.id] = ref
        await self._note_started(ref, info, id_tag=start["id_tag"], started_at=start["timestamp"], is_repeat=is_repeat)
        return {"transactionId": ref.id, "idTagInfo": _id_tag_info(info)}

    def _remember_start(self, id_tag: str, started: transactions.StartedTransaction) -> None:
        """Keep what this start taught us, for starts while the database is away."""
        info = started.id_tag_info
        valid = replace(info, status=ACCEPTED) if info.status == CONCURRENT_TX else info
        remembered = RememberedTag(valid, started.transaction.user_id, started.vehicle_id, self._now())
        self._runtime.recent_tags.remember(id_tag, remembered)

    async def _start_while_the_database_is_away(self, start: dict[str, Any]) -> Payload:
        """Answer a start with a reserved id when this node saw the tag recently; otherwise the charger
        gets InternalError and sends the start again later (OCPP 1.6 §4.10)."""
        remembered = self._runtime.recent_tags.recall(start["id_tag"], now=start["now"])
        transaction_id = self._runtime.transaction_ids.take() if remembered is not None else None
        if remembered is None or transaction_id is None:
            raise RpcError.because(ErrorKind.INTERNAL, DATABASE_AWAY)
        ref = await transactions.record_start(
            self._runtime.writer,
            transaction_id=transaction_id,
            id_tag_status=remembered.info.status,
            user_id=remembered.user_id,
            vehicle_id=remembered.vehicle_id,
            **start,
        )
        return await self._started(ref, remembered.info, start)

    async def stop_transaction(self, payload: Payload) -> Payload:
        transaction_id: int = payload["transactionId"]
        id_tag: str | None = payload.get("idTag")
        stop = {
            "charge_point_id": self.id,
            "transaction_id": transaction_id,
            "meter_stop": payload["meterStop"],
            "timestamp": _timestamp(payload["timestamp"]),
            "reason": payload.get("reason"),
            "id_tag": id_tag,
            "transaction_data": _meter_samples(payload.get("transactionData") or []),
        }
        known = self._transactions.pop(transaction_id, None)
        try:
            info = await self._stop_tag_info(id_tag, transaction_id) if id_tag else None
            closed = await self._close(known, stop)
        except DATABASE_UNREACHABLE:
            # The charger must get its answer (OCPP 1.6 §6.51) and the stop must not be lost: it is
            # written when the database returns; the answer carries no idTagInfo, which needs a read.
            await transactions.record_stop(self._runtime.writer, **stop, known=known)
            return {}
        if closed is not None:
            await self._stopped(closed)
        return {"idTagInfo": _id_tag_info(info)} if info else {}

    async def _stop_tag_info(self, id_tag: str, transaction_id: int) -> IdTagInfo:
        """The tag's status as if this transaction were closed already: ConcurrentTx only for another one."""
        return await authorize_id_tag(
            self._runtime.tags, id_tag, now=self._now(), ignore_transaction_id=transaction_id, charge_point_id=self.id
        )

    async def _close(
        self, known: transactions.TransactionRef | None, stop: dict[str, Any]
    ) -> transactions.ClosedTransaction | None:
        """Close without a read a transaction this connection knows open; read first for any other."""
        if known is not None and known.is_open:
            return await transactions.record_stop(self._runtime.writer, **stop, known=known)
        async with self._session() as session:
            return await transactions.stop_transaction(session, **stop)

    async def meter_values(self, payload: Payload) -> Payload:
        connector_id: int = payload["connectorId"]
        transaction_id: int | None = payload.get("transactionId")
        _require_connector(connector_id, allow_zero=True)
        samples = _meter_samples(payload["meterValue"])
        transaction = await self._transaction(transaction_id) if transaction_id is not None else None
        await transactions.add_meter_values(
            self._runtime.writer,
            charge_point_id=self.id,
            connector_id=connector_id,
            transaction=transaction,
            samples=samples,
        )
        if transaction is not None and transaction.charge_point_id == self.id:
            await self._published_meter_values(transaction, connector_id, samples)
        return {}

    async def _transaction(self, transaction_id: int) -> transactions.TransactionRef | None:
        ref = self._transactions.get(transaction_id)
        if ref is None:
            ref = await transactions.find_transaction_ref(self._runtime.engine, transaction_id)
            if ref is not None and ref.charge_point_id == self.id:
                self._transactions[transaction_id] = ref
        return ref

    async def data_transfer(self, payload: Payload) -> Payload:
        if payload["vendorId"] == plug_and_charge.VENDOR_ID:
            return await plug_and_charge.answer(
                self._runtime, self.id, payload.get("messageId"), payload.get("data"), now=self._now()
            )
        async with self._session() as session:
            await chargers.record_data_transfer(
                session,
                self.id,
                vendor_id=payload["vendorId"],
                message_id=payload.get("messageId"),
                data=payload.get("data"),
                now=self._now(),
            )
        # Kept for the operator, but csms implements no vendor extension (OCPP 1.6 §4.3).
        return {"status": "UnknownVendorId"}

    # -- Firmware Management profile -------------------------------------------------------

    async def firmware_status_notification(self, payload: Payload) -> Payload:
        status: str = payload["status"]
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind="firmware", status=status, now=self._now())
            await firmware.record_progress(session, self.id, status, now=self._now())
        await self._publish("firmware_status", status=status)
        return {}

    async def diagnostics_status_notification(self, payload: Payload) -> Payload:
        status: str = payload["status"]
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind="diagnostics", status=status, now=self._now())
            await diagnostics.record_progress(session, self.id, status, now=self._now())
        await self._publish("diagnostics_status", status=status)
        return {}

    # -- Security extensions (OCPP 1.6 Security Whitepaper) ---------------------------------

    async def security_event_notification(self, payload: Payload) -> Payload:
        await self._security_event(payload["type"], payload.get("techInfo"), _timestamp(payload["timestamp"]))
        return {}

    async def signed_firmware_status_notification(self, payload: Payload) -> Payload:
        await self._record_request_progress("firmware", payload["status"], payload.get("requestId"))
        return {}

    async def log_status_notification(self, payload: Payload) -> Payload:
        await self._record_request_progress("diagnostics", payload["status"], payload.get("requestId"))
        return {}


# The charger's calls csms answers, by action: the functions are shared by every connection.
HANDLERS = {
    "Authorize": Station16.authorize,
    "BootNotification": Station16.boot_notification,
    "DataTransfer": Station16.data_transfer,
    "DiagnosticsStatusNotification": Station16.diagnostics_status_notification,
    "FirmwareStatusNotification": Station16.firmware_status_notification,
    "Heartbeat": Station16.heartbeat,
    "LogStatusNotification": Station16.log_status_notification,
    "MeterValues": Station16.meter_values,
    "SecurityEventNotification": Station16.security_event_notification,
    "SignCertificate": Station16.sign_certificate,
    "SignedFirmwareStatusNotification": Station16.signed_firmware_status_notification,
    "StartTransaction": Station16.start_transaction,
    "StatusNotification": Station16.status_notification,
    "StopTransaction": Station16.stop_transaction,
}


def _id_tag_info(info: IdTagInfo) -> Payload:
    answer: Payload = {"status": info.status}
    if info.expiry_date is not None:
        answer["expiryDate"] = format_ocpp_timestamp(info.expiry_date)
    if info.parent_id_tag is not None:
        answer["parentIdTag"] = info.parent_id_tag
    return answer


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, f"{value!r} is not an RFC 3339 dateTime") from None


def _require_connector(connector_id: int, *, allow_zero: bool) -> None:
    lowest = 0 if allow_zero else 1
    if connector_id < lowest:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, f"connectorId must be {lowest} or more")


def _meter_samples(meter_value: list[dict[str, Any]]) -> list[transactions.MeterSample]:
    return [
        transactions.MeterSample(
            timestamp=_timestamp(sample["timestamp"]),
            sampled_values=[_sampled_value(value) for value in sample["sampledValue"]],
        )
        for sample in meter_value
    ]


def _sampled_value(value: dict[str, Any]) -> transactions.SampledValue:
    return transactions.SampledValue(
        value=value["value"],
        measurand=value.get("measurand", transactions.ENERGY_REGISTER),
        unit=value.get("unit"),
        phase=value.get("phase"),
        context=value.get("context"),
        location=value.get("location"),
        format=value.get("format"),
    )
