"""The CSMS side of OCPP 2.0.1: a station's calls, for one connection.

Each handler turns a 2.0.1 payload (camelCase, already checked against its schema) into domain values,
calls the same services as 1.6 and spells the answer in 2.0.1. What differs from 1.6 is kept here:
an EVSE and its connector instead of a connectorId, an idToken with a type, and transactions the
station names itself and reports as a numbered stream of TransactionEvents.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.ocpp.station import Station
from csms.ocpp.v201 import iso15118, smart_charging
from csms.ocpp.v201 import notifications as wire
from csms.services import (
    chargers,
    charging_reports,
    customer_information,
    device_model,
    display_messages,
    firmware_publication,
    monitoring,
    reservations,
    station_events,
    tariffs,
    transaction_events,
    transactions,
)
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.id_tags import ACCEPTED, IdTagInfo, authorize_id_tag
from csms.services.smart_charging import answer_charging_needs

if TYPE_CHECKING:
    from csms.runtime import Runtime

logger = logging.getLogger(__name__)

OCPP_201 = "2.0.1"
STARTED = "Started"
UPDATED = "Updated"
ENDED = "Ended"
TRANSACTION_BEGIN = "Transaction.Begin"
TRANSACTION_END = "Transaction.End"
# CertificateSigningUseEnumType: the station's OCPP client certificate (when none is named), and its ISO 15118
# SECC certificate.
CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
# What csms records of a transaction the station began before anyone presented a token.
NO_TOKEN = ""


class Station201(Station):
    """One 2.0.1 station's connection, as the handlers see it."""

    __slots__ = ("_transactions",)
    # The version recorded at boot: a later version's station that reuses these handlers says its own.
    ocpp_version = OCPP_201

    def __init__(self, charge_point_id: str, runtime: Runtime) -> None:
        super().__init__(charge_point_id, runtime)
        # The station's transactions seen on this connection, by the station's own transactionId.
        self._transactions: dict[str, _Known] = {}

    # -- B Provisioning ----------------------------------------------------------------------

    async def boot_notification(self, payload: Payload) -> Payload:
        station = payload["chargingStation"]
        modem = station.get("modem") or {}
        boot = chargers.BootInfo(
            vendor=station["vendorName"],
            model=station["model"],
            serial_number=station.get("serialNumber"),
            firmware_version=station.get("firmwareVersion"),
            iccid=modem.get("iccid"),
            imsi=modem.get("imsi"),
        )
        return await self._boot(boot, ocpp_version=self.ocpp_version, now=self._now())

    # -- G Availability ----------------------------------------------------------------------

    async def status_notification(self, payload: Payload) -> Payload:
        evse_id: int = payload["evseId"]
        status: str = payload["connectorStatus"]
        _require_evse(evse_id)
        report = chargers.StatusReport(
            connector_id=evse_id,
            status=status,
            error_code="NoError",  # 2.0.1 reports faults as NotifyEvent, not in the status
            timestamp=_timestamp(payload["timestamp"]),
            evse_id=evse_id,
            evse_connector_id=payload["connectorId"],
            availability="Inoperative" if status in ("Unavailable", "Faulted") else "Operative",
        )
        await chargers.record_status(self._runtime.writer, self.id, report, now=self._now())
        self.reported_connectors.add(evse_id)
        self._note_status(report)
        self._runtime.session_watch.status_changed(self.id, report)
        await self._publish("connector_status", connector_id=evse_id, status=status, error_code=None)
        return {}

    # -- C Authorization ---------------------------------------------------------------------

    async def authorize(self, payload: Payload) -> Payload:
        if iso15118.presents_contract(payload):
            runtime = self._runtime
            return await iso15118.authorize_with_contract(
                runtime.iso15118, runtime.tags, payload, now=self._now(), spell_info=_id_token_info
            )
        token = payload["idToken"]
        id_token = _token_value(token)
        info = await self._check_token(id_token, token["type"])
        answer = _id_token_info(info)
        if info.status == ACCEPTED:
            await self._add_tariff_text(answer, id_token, info)
        return {"idTokenInfo": answer}

    async def _add_tariff_text(self, id_token_info: Payload, id_token: str, info: IdTagInfo) -> None:
        """The driver's tariff as a personal message (2.0.1 I01): shown before they plug in and start."""
        watch = self._runtime.session_watch
        tariff = await watch.tariff_for(self.id, id_tag=id_token, group=info.parent_id_tag)
        if tariff is not None:
            id_token_info["personalMessage"] = {"format": "UTF8", "content": tariffs.tariff_text(tariff)[:512]}

    async def _check_token(
        self, id_token: str, id_token_type: str | None, *, in_transaction: int | None = None
    ) -> IdTagInfo:
        """A token as csms answers it, by value and type; NoAuthorization (free vend: the station let the
        driver charge without a token) and 2.1's DirectPayment (a payment terminal authorized the card)
        are Accepted, with no driver."""
        if id_token_type in transactions.STATION_AUTHORIZED:
            return IdTagInfo(status=ACCEPTED)
        return await authorize_id_tag(
            self._runtime.tags,
            id_token,
            now=self._now(),
            ignore_transaction_id=in_transaction,
            id_token_type=id_token_type,
            charge_point_id=self.id,
        )

    # -- M ISO 15118 certificate management ------------------------------------------------

    async def get_15118_ev_certificate(self, payload: Payload) -> Payload:
        return await iso15118.get_15118_ev_certificate(self._runtime.iso15118, payload)

    async def get_certificate_status(self, payload: Payload) -> Payload:
        return await iso15118.get_certificate_status(self._runtime.iso15118, payload)

    async def sign_certificate(self, payload: Payload) -> Payload:
        """A02/A03: the station's OCPP client certificate is signed by csms's CA; its ISO 15118 SECC certificate
        (V2GCertificate) by the certificate provider, and kept apart, so it never supersedes the OCPP one.
        Any other kind (2.1's V2G20Certificate) is Rejected: csms signs none."""
        kind = payload.get("certificateType", CHARGING_STATION_CERTIFICATE)
        if kind == V2G_CERTIFICATE:
            runtime = self._runtime
            return await iso15118.sign_v2g_certificate(runtime, self.id, payload, send=runtime.commands.send)
        if kind != CHARGING_STATION_CERTIFICATE:
            iso15118.refuse_v2g_request(self._runtime, self.id, f"csms signs no {kind}")
            return {"status": "Rejected"}
        return await super().sign_certificate(payload)

    # -- E Transactions ----------------------------------------------------------------------

    async def transaction_event(self, payload: Payload) -> Payload:
        event = _Event.of(payload)
        known = self._transactions.get(event.key)
        if known is None and event.event_type != STARTED:  # a Started told again is found by _start
            known = await self._read_known(event.key)
        info: IdTagInfo | None = None
        if known is None:
            known, info = await self._start(event)
        elif event.id_token is not None and known.began_without_token is not None:
            info = await self._authorize_later(known, event.id_token, event.id_token_type, known.began_without_token)
        elif event.id_token is not None:
            info = await self._check_token(event.id_token, event.id_token_type, in_transaction=known.ref.id)
        meter_values = transactions.MeterValueWrites.of(self.id, event.evse_id, known.ref, event.samples)
        await self._record_event(known, event, payload, meter_values)
        answer: Payload = {}
        if event.samples:
            cost_so_far = await self._published_meter_values(known.ref, event.evse_id, event.samples)
            if cost_so_far is not None and event.event_type == UPDATED:
                self._tell_running_cost(known, cost_so_far)
        if event.event_type == ENDED:
            final_cost = await self._end(known, event)
            if final_cost is not None:  # 2.0.1 E01: the final cost, and only then; none when no tariff applied
                answer["totalCost"] = float(final_cost)
        if info is not None and event.id_token is not None:  # only a token presented is answered
            answer["idTokenInfo"] = _id_token_info(info)
        return answer

    async def _read_known(self, key: str) -> _Known | None:
        found = await transactions.find_transaction_by_key(self._runtime.engine, self.id, key)
        if found is None:
            return None
        known = self._transactions[key] = _Known(found.ref, last_seq_no=None)
        if found.ref.is_open and found.id_tag == NO_TOKEN:  # begun before this connection, still without a token
            known.began_without_token = found.started_at
        return known

    async def _start(self, event: _Event) -> tuple[_Known, IdTagInfo]:
        """Record the transaction the station began (its first event, Started or a later one if the
        station's Started was lost), with its token checked as for a 1.6 StartTransaction."""
        runtime = self._runtime
        id_tag = event.id_token or NO_TOKEN
        now = self._now()
        started = await transactions.start_transaction(
            runtime.engine,
            runtime.writer,
            runtime.tags,
            transaction_id=await runtime.next_transaction_id(),
            charge_point_id=self.id,
            connector_id=event.evse_id,
            id_tag=id_tag,
            meter_start=_first_known(event.register_wh(TRANSACTION_BEGIN), event.register_wh(None), 0),
            timestamp=event.timestamp,
            reservation_id=event.reservation_id,
            now=now,
            charger_key=transactions.ChargerTransactionKey(
                key=event.key,
                evse_id=event.evse_id,
                id_token_type=event.id_token_type,
                remote_start_id=event.remote_start_id,
                charging_state=event.charging_state,
                seq_no=event.seq_no,
            ),
        )
        known = self._transactions[event.key] = _Known(started.transaction, last_seq_no=None)
        if event.reservation_id is not None and not started.is_repeat:
            await self._consume_reservation(event.reservation_id, started.transaction.id)
        if event.id_token is None:
            known.began_without_token = event.timestamp
        await self._note_started(
            started.transaction,
            started.id_tag_info,
            id_tag=id_tag,
            started_at=event.timestamp,
            is_repeat=started.is_repeat,
        )
        return known, started.id_tag_info

    async def _authorize_later(
        self, known: _Known, id_token: str, id_token_type: str | None, started_at: datetime
    ) -> IdTagInfo:
        """The first token of a transaction the station began on plug-in (2.0.1 TxStartPoint EVConnected)."""
        info = await transactions.authorize_later(
            self._runtime.writer,
            self._runtime.tags,
            known.ref,
            id_tag=id_token,
            id_token_type=id_token_type,
            no_token=NO_TOKEN,
            now=self._now(),
        )
        known.began_without_token = None
        if known.ref.is_accepted:
            await self._note_started(known.ref, info, id_tag=id_token, started_at=started_at)
        return info

    async def _record_event(
        self, known: _Known, event: _Event, payload: Payload, meter_values: transactions.MeterValueWrites
    ) -> None:
        """The event, once, with the meter values it carries, in one commit."""
        lost = transaction_events.missing_before(event.seq_no, known.last_seq_no)
        if lost:
            logger.warning(
                "station %s: TransactionEvents %s-%s of transaction %s never arrived",
                self.id, lost.start, lost.stop - 1, event.key,
            )  # fmt: skip
        known.last_seq_no = max(event.seq_no, known.last_seq_no or 0)
        record = transaction_events.EventRecord(
            transaction_id=known.ref.id,
            seq_no=event.seq_no,
            event_type=event.event_type,
            trigger_reason=event.trigger_reason,
            timestamp=event.timestamp,
            offline=event.offline,
            charging_state=event.charging_state,
            stopped_reason=event.stopped_reason,
            payload=json.dumps(payload, separators=(",", ":")),
            received_at=self._now(),
        )
        await transaction_events.record_event(self._runtime.writer, record, *meter_values.parts)
        meter_values.written()

    def _tell_running_cost(self, known: _Known, cost: Decimal) -> None:
        """CostUpdated (2.0.1 I02) when the running cost changed, at most once per `cost_update_interval`:
        a 2.0.1 answer to an Updated event may not carry it. Sent once this answer is on its way."""
        now = time.monotonic()
        interval = self._runtime.settings.cost_update_interval
        if cost == known.cost_told or (known.cost_told_at is not None and now - known.cost_told_at < interval):
            return
        known.cost_told, known.cost_told_at = cost, now
        update = {"totalCost": float(cost), "transactionId": known.ref.transaction_key}
        sending = self._runtime.commands.send(self.id, "CostUpdated", update)
        self._runtime.background.spawn(sending, name=f"cost-updated-{self.id}")

    async def _end(self, known: _Known, event: _Event) -> Decimal | None:
        """Close the transaction; its final cost when a tariff applies."""
        ref = known.ref
        meter_stop = event.register_wh(TRANSACTION_END)
        if meter_stop is None:
            meter_stop = ref.meter_last_wh if ref.meter_last_wh is not None else ref.meter_start
        closed = await transactions.record_stop(
            self._runtime.writer,
            charge_point_id=self.id,
            transaction_id=ref.id,
            known=ref if ref.is_open else None,
            meter_stop=meter_stop,
            timestamp=event.timestamp,
            reason=event.stopped_reason,
            id_tag=event.id_token,
            transaction_data=[],  # its meter values were stored with the event
        )
        ref.is_open = False
        if closed is None:
            return None
        return await self._stopped(closed, price_now=True)

    async def notify_report(self, payload: Payload) -> Payload:
        attributes = [attribute for part in payload.get("reportData") or [] for attribute in _reported_attributes(part)]
        async with self._session() as session:
            await device_model.record_report(session, self.id, attributes, now=self._now())
        await self._publish("device_model_updated", request_id=payload["requestId"], seq_no=payload["seqNo"])
        return {}

    # -- N Diagnostics: events, monitoring, customer information ----------------------------

    async def notify_event(self, payload: Payload) -> Payload:
        """Each part (seqNo, tbc) is kept as it comes; a new event is announced live and to webhooks."""
        events = [wire.reported_event(data) for data in payload["eventData"]]
        async with self._session() as session:
            new = await station_events.record_events(
                session,
                self.id,
                events,
                seq_no=payload["seqNo"],
                generated_at=_timestamp(payload["generatedAt"]),
                now=self._now(),
            )
        for event in new:
            self._runtime.session_watch.station_event(self.id, event.fields())
        return {}

    async def notify_monitoring_report(self, payload: Payload) -> Payload:
        monitors = [
            wire.monitor(variable, monitor)
            for part in payload.get("monitor") or []
            for variable in [wire.component_variable(part["component"], part["variable"])]
            for monitor in part["variableMonitoring"]
        ]
        async with self._session() as session:
            await monitoring.record_monitors(session, self.id, monitors, source=monitoring.REPORTED, now=self._now())
        await self._publish("monitoring_report", request_id=payload["requestId"], seq_no=payload["seqNo"])
        return {}

    async def notify_customer_information(self, payload: Payload) -> Payload:
        async with self._session() as session:
            await customer_information.record_part(
                session,
                self.id,
                request_id=payload["requestId"],
                seq_no=payload["seqNo"],
                tbc=payload.get("tbc", False),
                data=payload["data"],
                generated_at=_timestamp(payload["generatedAt"]),
                now=self._now(),
            )
        return {}

    # -- O Display messages ------------------------------------------------------------------

    async def notify_display_messages(self, payload: Payload) -> Payload:
        reported = [wire.reported_message(info) for info in payload.get("messageInfo") or []]
        async with self._session() as session:
            await display_messages.record_reported(session, self.id, payload["requestId"], reported, now=self._now())
        return {}

    # -- J Meter values ----------------------------------------------------------------------

    async def meter_values(self, payload: Payload) -> Payload:
        evse_id: int = payload["evseId"]
        samples = _meter_samples(payload["meterValue"])
        await transactions.add_meter_values(
            self._runtime.writer, charge_point_id=self.id, connector_id=evse_id, transaction=None, samples=samples
        )
        return {}

    # -- A Security, P DataTransfer ----------------------------------------------------------

    async def security_event_notification(self, payload: Payload) -> Payload:
        await self._security_event(payload["type"], payload.get("techInfo"), _timestamp(payload["timestamp"]))
        return {}

    # -- H Reservation -----------------------------------------------------------------------

    async def reservation_status_update(self, payload: Payload) -> Payload:
        async with self._session() as session:
            await reservations.record_reported(
                session, self.id, payload["reservationId"], payload["reservationUpdateStatus"], now=self._now()
            )
        return {}

    # -- K Smart charging --------------------------------------------------------------------

    async def report_charging_profiles(self, payload: Payload) -> Payload:
        part = smart_charging.reported_profiles(payload)
        async with self._session() as session:
            await charging_reports.record_reported_profiles(session, self.id, part, now=self._now())
        await self._publish(
            "charging_profiles_reported",
            request_id=part.request_id,
            evse_id=part.evse_id,
            tbc=payload.get("tbc", False),
        )
        return {}

    async def notify_charging_limit(self, payload: Payload) -> Payload:
        limit = smart_charging.limit_report(payload)
        async with self._session() as session:
            await charging_reports.record_limit(session, self.id, limit, now=self._now())
        await self._publish(
            "charging_limit", evse_id=limit.evse_id, source=limit.source, is_grid_critical=limit.is_grid_critical
        )
        return {}

    async def cleared_charging_limit(self, payload: Payload) -> Payload:
        source, evse_id = payload["chargingLimitSource"], payload.get("evseId")
        async with self._session() as session:
            await charging_reports.record_limit_cleared(
                session, self.id, source=source, evse_id=evse_id, now=self._now()
            )
        await self._publish("charging_limit_cleared", evse_id=evse_id, source=source)
        return {}

    async def notify_ev_charging_needs(self, payload: Payload) -> Payload:
        report = smart_charging.ev_needs(payload)
        await self._record_ev_report(report)
        # Accepted, and a schedule follows (K16) once this answer is on its way: a TxProfile meeting the needs,
        # unless the station is on a site, whose allocator sets its transactions' limits.
        needs = smart_charging.charging_needs(payload, report.departure_time)
        runtime = self._runtime
        if needs is not None and not runtime.session_watch.site_load.is_on_site(self.id):
            schedule = answer_charging_needs(
                runtime.session_factory, runtime.commands.send_command, self.id, needs, now=self._now()
            )
            runtime.background.spawn(schedule, name=f"charging-needs-{self.id}")
        return {"status": "Accepted"}

    async def notify_ev_charging_schedule(self, payload: Payload) -> Payload:
        await self._record_ev_report(smart_charging.ev_schedule(payload))
        return {"status": "Accepted"}

    async def _record_ev_report(self, report: charging_reports.EvReport) -> None:
        async with self._session() as session:
            await charging_reports.record_ev_report(session, self.id, report, now=self._now())
        departure = report.departure_time.isoformat() if report.departure_time else None
        await self._publish(
            "ev_charging_report",
            evse_id=report.evse_id,
            report=report.kind,
            energy_transfer=report.energy_transfer,
            departure_time=departure,
        )

    async def firmware_status_notification(self, payload: Payload) -> Payload:
        await self._record_request_progress("firmware", payload["status"], payload.get("requestId"))
        return {}

    async def publish_firmware_status_notification(self, payload: Payload) -> Payload:
        """A local controller's progress publishing firmware (L03), with its locations once Published."""
        async with self._session() as session:
            await firmware_publication.record_reported(
                session,
                self.id,
                request_id=payload.get("requestId"),
                status=payload["status"],
                locations=payload.get("location") or [],
                now=self._now(),
            )
        await self._publish(
            "firmware_publication_status", status=payload["status"], request_id=payload.get("requestId")
        )
        return {}

    async def log_status_notification(self, payload: Payload) -> Payload:
        await self._record_request_progress("diagnostics", payload["status"], payload.get("requestId"))
        return {}

    async def data_transfer(self, payload: Payload) -> Payload:
        async with self._session() as session:
            await chargers.record_data_transfer(
                session,
                self.id,
                vendor_id=payload["vendorId"],
                message_id=payload.get("messageId"),
                data=None if payload.get("data") is None else json.dumps(payload["data"]),
                now=self._now(),
            )
        return {"status": "UnknownVendorId"}


class _Known:
    """A transaction of this station csms has a record of, and the last seqNo seen of it here."""

    __slots__ = ("began_without_token", "cost_told", "cost_told_at", "last_seq_no", "ref")

    def __init__(self, ref: transactions.TransactionRef, *, last_seq_no: int | None) -> None:
        self.ref = ref
        self.last_seq_no = last_seq_no
        # When it began, for a transaction begun before any token was presented.
        self.began_without_token: datetime | None = None
        # The running cost last told to the station (CostUpdated), and when (time.monotonic()).
        self.cost_told: Decimal | None = None
        self.cost_told_at: float | None = None


class _Event:
    """The fields of one TransactionEvent csms acts on."""

    __slots__ = (
        "charging_state",
        "event_type",
        "evse_id",
        "id_token",
        "id_token_type",
        "key",
        "offline",
        "remote_start_id",
        "reservation_id",
        "samples",
        "seq_no",
        "stopped_reason",
        "timestamp",
        "trigger_reason",
    )

    def __init__(self, payload: Payload) -> None:
        info = payload["transactionInfo"]
        token = payload.get("idToken")
        self.key: str = info["transactionId"]
        self.event_type: str = payload["eventType"]
        self.trigger_reason: str = payload["triggerReason"]
        self.seq_no: int = payload["seqNo"]
        self.timestamp = _timestamp(payload["timestamp"])
        self.offline: bool = payload.get("offline", False)
        self.charging_state: str | None = info.get("chargingState")
        self.stopped_reason: str | None = info.get("stoppedReason")
        self.remote_start_id: int | None = info.get("remoteStartId")
        self.reservation_id: int | None = payload.get("reservationId")
        self.id_token = _token_value(token) if token is not None else None
        self.id_token_type: str | None = token["type"] if token is not None else None
        self.evse_id: int = (payload.get("evse") or {}).get("id", 0)
        self.samples = _meter_samples(payload.get("meterValue") or [])

    @classmethod
    def of(cls, payload: Payload) -> _Event:
        event = cls(payload)
        if event.event_type == STARTED and event.evse_id < 1:
            raise RpcError.because(ErrorKind.OCCURRENCE_CONSTRAINT, "a Started TransactionEvent names its evse")
        return event

    def register_wh(self, context: str | None) -> int | None:
        """The energy register read in this event's samples of `context` (begin or end; None: any), in Wh."""
        for sample in self.samples:
            if context is None or any(value.context == context for value in sample.sampled_values):
                reading = transactions.register_wh(sample.sampled_values)
                if reading is not None:
                    return reading
        return None


# The station's calls csms answers, by action: the functions are shared by every connection.
HANDLERS = {
    "Authorize": Station201.authorize,
    "BootNotification": Station201.boot_notification,
    "ClearedChargingLimit": Station201.cleared_charging_limit,
    "DataTransfer": Station201.data_transfer,
    "FirmwareStatusNotification": Station201.firmware_status_notification,
    "Get15118EVCertificate": Station201.get_15118_ev_certificate,
    "GetCertificateStatus": Station201.get_certificate_status,
    "LogStatusNotification": Station201.log_status_notification,
    "PublishFirmwareStatusNotification": Station201.publish_firmware_status_notification,
    "Heartbeat": Station201.heartbeat,
    "MeterValues": Station201.meter_values,
    "NotifyCustomerInformation": Station201.notify_customer_information,
    "NotifyDisplayMessages": Station201.notify_display_messages,
    "NotifyChargingLimit": Station201.notify_charging_limit,
    "NotifyEVChargingNeeds": Station201.notify_ev_charging_needs,
    "NotifyEVChargingSchedule": Station201.notify_ev_charging_schedule,
    "NotifyEvent": Station201.notify_event,
    "NotifyMonitoringReport": Station201.notify_monitoring_report,
    "NotifyReport": Station201.notify_report,
    "ReportChargingProfiles": Station201.report_charging_profiles,
    "ReservationStatusUpdate": Station201.reservation_status_update,
    "SecurityEventNotification": Station201.security_event_notification,
    "SignCertificate": Station201.sign_certificate,
    "StatusNotification": Station201.status_notification,
    "TransactionEvent": Station201.transaction_event,
}


def _reported_attributes(part: dict[str, Any]) -> list[device_model.ReportedAttribute]:
    """The attributes of one reportData entry, one per variableAttribute."""
    component, variable = part["component"], part["variable"]
    characteristics = part.get("variableCharacteristics")
    return [
        device_model.attribute_named(
            component,
            variable,
            attribute_type=attribute.get("type", "Actual"),
            value=attribute.get("value"),
            mutability=attribute.get("mutability", "ReadWrite"),
            # Absent means false (2.0.1 VariableAttributeType).
            persistent=attribute.get("persistent", False),
            constant=attribute.get("constant", False),
            data_type=characteristics["dataType"] if characteristics else None,
            characteristics=json.dumps(characteristics, separators=(",", ":")) if characteristics else None,
        )
        for attribute in part["variableAttribute"]
    ]


def _first_known(*readings: int | None) -> int:
    return next(reading for reading in readings if reading is not None)


def _token_value(token: dict[str, Any]) -> str:
    value: str = token["idToken"]
    return value


def _id_token_info(info: IdTagInfo) -> Payload:
    answer: Payload = {"status": info.status}
    if info.expiry_date is not None:
        answer["cacheExpiryDateTime"] = format_ocpp_timestamp(info.expiry_date)
    if info.parent_id_tag is not None:
        answer["groupIdToken"] = {"idToken": info.parent_id_tag, "type": "Central"}
    return answer


# The 1.6 Plug & Charge route answers 2.0.1 Authorize payloads (v16/plug_and_charge.py).
id_token_info = _id_token_info


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise RpcError.because(ErrorKind.FORMAT, f"{value!r} is not an RFC 3339 dateTime") from None


def _require_evse(evse_id: int) -> None:
    if evse_id < 1:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, "evseId must be 1 or more")


def _meter_samples(meter_value: list[dict[str, Any]]) -> list[transactions.MeterSample]:
    return [
        transactions.MeterSample(
            timestamp=_timestamp(sample["timestamp"]),
            sampled_values=[_sampled_value(value) for value in sample["sampledValue"]],
        )
        for sample in meter_value
    ]


def _sampled_value(value: dict[str, Any]) -> transactions.SampledValue:
    """A 2.0.1 sampledValue as csms keeps readings: the number scaled by its unit's multiplier, as text;
    a signed value keeps the station's signed data beside it."""
    unit = value.get("unitOfMeasure") or {}
    signed = value.get("signedMeterValue")
    return transactions.SampledValue(
        value=_scaled(value["value"], unit.get("multiplier", 0)),
        measurand=value.get("measurand", transactions.ENERGY_REGISTER),
        unit=unit.get("unit", "Wh"),
        phase=value.get("phase"),
        context=value.get("context"),
        location=value.get("location"),
        signed_meter_value=json.dumps(signed, separators=(",", ":")) if signed is not None else None,
    )


def _scaled(number: Any, multiplier: int) -> str:
    if multiplier == 0 and type(number) is int:  # the common reading, without Decimal's cost
        return str(number)
    try:
        scaled = Decimal(str(number)).scaleb(multiplier)
    except InvalidOperation:
        raise RpcError.because(ErrorKind.TYPE_CONSTRAINT, f"{number!r} is not a number") from None
    return format(scaled.normalize(), "f") if scaled == scaled.to_integral() else format(scaled, "f")
