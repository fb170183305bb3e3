"""A simulated OCPP 2.0.1 or 2.1 charging station built on the `ocpp` package's ChargePoint over `websockets`.

A 2.1 station (`ocpp_version="2.1"`) sends the same messages, checked by the package against its 2.1
schemas, as are the calls it receives: what it sends is the same in both versions.

It sends what a station sends (boot, status per EVSE, authorization, the TransactionEvent stream of a
transaction with its seqNo) and answers the CSMS's calls; every call it receives is kept in `received`
(its payload in the package's snake_case) and in `calls` as it came over the wire, so a test can
assert on the exact payload. The charging profiles it accepts are kept in `profiles`, per EVSE (0: the
station), as in the 1.6 charger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ssl import SSLContext
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v21 import call_result as call_result_21
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.typing import Subprotocol

from csms.simulator.charger import (
    Answer,
    ReceivedCalls,
    basic_auth_header,
    is_accepted,
    iso,
    keep_profile,
    now_iso,
    parse_iso,
    stop_task,
)
from csms.simulator.profiles import ChargingProfiles, in_unit, read_clear

SUBPROTOCOL = "ocpp2.0.1"
SUBPROTOCOLS = {"2.0.1": SUBPROTOCOL, "2.1": "ocpp2.1"}


@dataclass
class StationBehaviour:
    """How the simulated station answers the CSMS; override per test."""

    request_start_status: str = "Accepted"
    request_stop_status: str = "Accepted"
    answers: dict[str, Answer] = field(default_factory=dict)
    # The device model GetVariables reads and SetVariables writes: (component, variable) -> value.
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    # The id the station gives the next monitor set without one (SetVariableMonitoring).
    next_monitor_id: int = 100
    max_current_a: float = 32.0  # what an EVSE gives with no profile, as its composite schedule says


@dataclass
class StationTransaction:
    """A transaction the station runs: its own id, EVSE and the next seqNo of its events."""

    transaction_id: str
    evse_id: int
    id_token: dict[str, str] | None
    remote_start_id: int | None = None
    next_seq_no: int = 0
    reservation_id: int | None = None  # the reservation it began on, named in its Started event


class SimulatedStation(ChargePoint, ReceivedCalls):  # type: ignore[misc]
    def __init__(
        self,
        station_id: str,
        connection: Any,
        behaviour: StationBehaviour | None = None,
        *,
        ocpp_version: str = "2.0.1",
    ) -> None:
        ChargePoint.__init__(self, station_id, connection, response_timeout=30)
        ReceivedCalls.__init__(self)
        self.ocpp_version = ocpp_version
        if ocpp_version == "2.1":
            # The package validates by this name (its v21 schemas) and builds answers of this module's classes.
            self._ocpp_version = "2.1"
            self._call_result = call_result_21
        self.behaviour = behaviour or StationBehaviour()
        self.calls: list[list[Any]] = []  # the CALL frames csms sent, parsed, as on the wire
        # The version of the local list it holds, as its last accepted SendLocalList set it (0: none).
        self.local_list_version = 0
        self.websocket = connection  # for frames sent outside the package's call-and-wait
        self.profiles = ChargingProfiles()

    async def route_message(self, raw_msg: str) -> None:
        with contextlib.suppress(ValueError):
            frame = json.loads(raw_msg)
            if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2:  # only calls: answers pile up
                self.calls.append(frame)
        await super().route_message(raw_msg)

    def calls_received(self, action: str) -> list[dict[str, Any]]:
        """The payloads of `action` the station received, exactly as on the wire."""
        return [frame[3] for frame in self.calls if frame[2] == action]

    # -- what a station sends ----------------------------------------------------------------

    async def boot(self, *, vendor: str = "csms-sim", model: str = "SimStation201", **station: Any) -> Any:
        charging_station = {"vendorName": vendor, "model": model, **station}
        return await self.call(call.BootNotification(charging_station=charging_station, reason="PowerUp"))

    async def heartbeat(self) -> Any:
        return await self.call(call.Heartbeat())

    async def status(self, evse_id: int, status: str, *, connector_id: int = 1, timestamp: str | None = None) -> Any:
        return await self.call(
            call.StatusNotification(
                timestamp=timestamp or now_iso(), connector_status=status, evse_id=evse_id, connector_id=connector_id
            )
        )

    async def authorize(self, id_token: str, kind: str = "ISO14443") -> Any:
        return await self.call(call.Authorize(id_token={"idToken": id_token, "type": kind}))

    def new_transaction(
        self, evse_id: int, id_token: dict[str, str] | None = None, *, remote_start_id: int | None = None
    ) -> StationTransaction:
        return StationTransaction(str(uuid.uuid4()), evse_id, id_token, remote_start_id)

    async def transaction_event(
        self,
        transaction: StationTransaction,
        event_type: str,
        trigger_reason: str,
        *,
        energy_wh: float | None = None,
        context: str = "Sample.Periodic",
        charging_state: str | None = None,
        stopped_reason: str | None = None,
        with_token: bool = False,
        timestamp: str | None = None,
        seq_no: int | None = None,
        power_w: float | None = None,
        current_a: float | None = None,
        offered_a: float | None = None,
        transaction_limit: dict[str, Any] | None = None,
    ) -> Any:
        """Send the next event of `transaction` (its seqNo counts up unless `seq_no` is given); its
        meter value carries the energy register and, with `power_w`, the power drawn, with `current_a`
        the current drawn on each of L1, L2 and L3, with `offered_a` the current offered (the limit in
        force). A 2.1 station may name the transaction's limit (maxCost, maxEnergy, maxTime, maxSoC)."""
        info: dict[str, Any] = {"transactionId": transaction.transaction_id}
        if transaction_limit is not None:
            info["transactionLimit"] = transaction_limit
        if charging_state is not None:
            info["chargingState"] = charging_state
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        if transaction.remote_start_id is not None and event_type == "Started":
            info["remoteStartId"] = transaction.remote_start_id
        at = timestamp or now_iso()
        extra: dict[str, Any] = {}
        if energy_wh is not None:
            sampled: list[dict[str, Any]] = [
                {"value": energy_wh, "context": context, "measurand": "Energy.Active.Import.Register"}
            ]
            if power_w is not None:
                sampled.append({"value": round(power_w), "context": context, "measurand": "Power.Active.Import"})
            sampled += _currents(current_a, offered_a, context)
            extra["meter_value"] = [{"timestamp": at, "sampledValue": sampled}]
        if event_type == "Started":
            extra["evse"] = {"id": transaction.evse_id, "connectorId": 1}
            if transaction.reservation_id is not None:
                extra["reservation_id"] = transaction.reservation_id
        if transaction.id_token is not None and (with_token or event_type == "Started"):
            extra["id_token"] = transaction.id_token
        if seq_no is None:
            seq_no = transaction.next_seq_no
            transaction.next_seq_no += 1
        if event_type == "Started":
            self.profiles.transaction_started(transaction.evse_id, transaction.transaction_id, parse_iso(at))
        elif event_type == "Ended":
            self.profiles.transaction_ended(transaction.evse_id)
        return await self.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=at,
                trigger_reason=trigger_reason,
                seq_no=seq_no,
                transaction_info=info,
                **extra,
            )
        )

    async def firmware_status(self, status: str, request_id: int) -> Any:
        return await self.call(call.FirmwareStatusNotification(status=status, request_id=request_id))

    async def publish_firmware_status(self, status: str, request_id: int, locations: list[str] | None = None) -> Any:
        """A local controller's PublishFirmwareStatusNotification; Published names where it serves the image."""
        return await self.call(
            call.PublishFirmwareStatusNotification(status=status, request_id=request_id, location=locations)
        )

    async def log_status(self, status: str, request_id: int) -> Any:
        return await self.call(call.LogStatusNotification(status=status, request_id=request_id))

    async def reservation_status_update(self, reservation_id: int, status: str) -> Any:
        return await self.call(
            call.ReservationStatusUpdate(reservation_id=reservation_id, reservation_update_status=status)
        )

    async def notify_report(self, request_id: int, seq_no: int, report_data: list[dict[str, Any]], *, tbc: bool) -> Any:
        return await self.call(
            call.NotifyReport(
                request_id=request_id, generated_at=now_iso(), seq_no=seq_no, report_data=report_data, tbc=tbc
            )
        )

    async def sign_certificate(self, csr: str) -> Any:
        return await self.call(call.SignCertificate(csr=csr, certificate_type="ChargingStationCertificate"))

    async def notify_event(self, event_data: list[dict[str, Any]], *, seq_no: int = 0, tbc: bool = False) -> Any:
        """NotifyEvent with `event_data` as on the wire (camelCase)."""
        return await self.call(call.NotifyEvent(generated_at=now_iso(), seq_no=seq_no, event_data=event_data, tbc=tbc))

    async def notify_monitoring_report(
        self, request_id: int, seq_no: int, monitor: list[dict[str, Any]], *, tbc: bool
    ) -> Any:
        return await self.call(
            call.NotifyMonitoringReport(
                request_id=request_id, seq_no=seq_no, generated_at=now_iso(), monitor=monitor, tbc=tbc
            )
        )

    async def notify_customer_information(self, request_id: int, seq_no: int, data: str, *, tbc: bool) -> Any:
        return await self.call(
            call.NotifyCustomerInformation(
                data=data, seq_no=seq_no, generated_at=now_iso(), request_id=request_id, tbc=tbc
            )
        )

    async def notify_display_messages(self, request_id: int, message_info: list[dict[str, Any]], *, tbc: bool) -> Any:
        return await self.call(call.NotifyDisplayMessages(request_id=request_id, message_info=message_info, tbc=tbc))

    async def meter_values(self, evse_id: int, energy_wh: float) -> Any:
        sampled = {"value": energy_wh, "measurand": "Energy.Active.Import.Register"}
        return await self.call(
            call.MeterValues(evse_id=evse_id, meter_value=[{"timestamp": now_iso(), "sampledValue": [sampled]}])
        )

    # -- what a station answers --------------------------------------------------------------

    async def _answer(self, action: str, payload: dict[str, Any], default: Any) -> Any:
        self._received(action, payload)
        custom = self.behaviour.answers.get(action)
        return custom(payload) if custom else default

    @on(Action.request_start_transaction)
    async def on_request_start_transaction(self, **payload: Any) -> Any:
        default = call_result.RequestStartTransaction(status=self.behaviour.request_start_status)
        return await self._answer("RequestStartTransaction", payload, default)

    @on(Action.request_stop_transaction)
    async def on_request_stop_transaction(self, **payload: Any) -> Any:
        default = call_result.RequestStopTransaction(status=self.behaviour.request_stop_status)
        return await self._answer("RequestStopTransaction", payload, default)

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        return await self._answer("Reset", payload, call_result.Reset(status="Accepted"))

    @on(Action.get_base_report)
    async def on_get_base_report(self, **payload: Any) -> Any:
        return await self._answer("GetBaseReport", payload, call_result.GetBaseReport(status="Accepted"))

    @on(Action.trigger_message)
    async def on_trigger_message(self, **payload: Any) -> Any:
        return await self._answer("TriggerMessage", payload, call_result.TriggerMessage(status="Accepted"))

    @on(Action.certificate_signed)
    async def on_certificate_signed(self, **payload: Any) -> Any:
        return await self._answer("CertificateSigned", payload, call_result.CertificateSigned(status="Accepted"))

    @on(Action.send_local_list)
    async def on_send_local_list(self, **payload: Any) -> Any:
        answer = await self._answer("SendLocalList", payload, call_result.SendLocalList(status="Accepted"))
        if getattr(answer, "status", None) == "Accepted":
            self.local_list_version = payload["version_number"]
        return answer

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **payload: Any) -> Any:
        default = call_result.GetLocalListVersion(version_number=self.local_list_version)
        return await self._answer("GetLocalListVersion", payload, default)

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> Any:
        return await self._answer("DataTransfer", payload, call_result.DataTransfer(status="Accepted"))

    @on(Action.set_variables)
    async def on_set_variables(self, **payload: Any) -> Any:
        results = []
        for data in payload["set_variable_data"]:
            component, variable = data["component"], data["variable"]
            self.behaviour.variables[component["name"], variable["name"]] = data["attribute_value"]
            results.append({"attribute_status": "Accepted", "component": component, "variable": variable})
        return await self._answer("SetVariables", payload, call_result.SetVariables(set_variable_result=results))

    @on(Action.get_variables)
    async def on_get_variables(self, **payload: Any) -> Any:
        results = []
        for data in payload["get_variable_data"]:
            component, variable = data["component"], data["variable"]
            value = self.behaviour.variables.get((component["name"], variable["name"]))
            found = {"attribute_status": "Accepted", "attribute_value": value} if value is not None else {}
            results.append(
                {"attribute_status": "UnknownVariable", "component": component, "variable": variable, **found}
            )
        return await self._answer("GetVariables", payload, call_result.GetVariables(get_variable_result=results))

    @on(Action.update_firmware)
    async def on_update_firmware(self, **payload: Any) -> Any:
        return await self._answer("UpdateFirmware", payload, call_result.UpdateFirmware(status="Accepted"))

    @on(Action.get_log)
    async def on_get_log(self, **payload: Any) -> Any:
        default = call_result.GetLog(status="Accepted", filename="station.log")
        return await self._answer("GetLog", payload, default)

    @on(Action.reserve_now)
    async def on_reserve_now(self, **payload: Any) -> Any:
        return await self._answer("ReserveNow", payload, call_result.ReserveNow(status="Accepted"))

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, **payload: Any) -> Any:
        return await self._answer("CancelReservation", payload, call_result.CancelReservation(status="Accepted"))

    @on(Action.set_network_profile)
    async def on_set_network_profile(self, **payload: Any) -> Any:
        return await self._answer("SetNetworkProfile", payload, call_result.SetNetworkProfile(status="Accepted"))

    @on(Action.publish_firmware)
    async def on_publish_firmware(self, **payload: Any) -> Any:
        return await self._answer("PublishFirmware", payload, call_result.PublishFirmware(status="Accepted"))

    @on(Action.unpublish_firmware)
    async def on_unpublish_firmware(self, **payload: Any) -> Any:
        return await self._answer("UnpublishFirmware", payload, call_result.UnpublishFirmware(status="Unpublished"))

    @on(Action.cost_updated)
    async def on_cost_updated(self, **payload: Any) -> Any:
        return await self._answer("CostUpdated", payload, call_result.CostUpdated())

    @on(Action.set_variable_monitoring)
    async def on_set_variable_monitoring(self, **payload: Any) -> Any:
        """Every monitor accepted, a new one under the station's next id."""
        results = []
        for data in payload["set_monitoring_data"]:
            monitor_id = data.get("id")
            if monitor_id is None:
                monitor_id = self.behaviour.next_monitor_id
                self.behaviour.next_monitor_id += 1
            results.append(
                {
                    "id": monitor_id,
                    "status": "Accepted",
                    "type": data["type"],
                    "severity": data["severity"],
                    "component": data["component"],
                    "variable": data["variable"],
                }
            )
        default = call_result.SetVariableMonitoring(set_monitoring_result=results)
        return await self._answer("SetVariableMonitoring", payload, default)

    @on(Action.clear_variable_monitoring)
    async def on_clear_variable_monitoring(self, **payload: Any) -> Any:
        results = [{"id": monitor_id, "status": "Accepted"} for monitor_id in payload["id"]]
        default = call_result.ClearVariableMonitoring(clear_monitoring_result=results)
        return await self._answer("ClearVariableMonitoring", payload, default)

    @on(Action.set_monitoring_base)
    async def on_set_monitoring_base(self, **payload: Any) -> Any:
        return await self._answer("SetMonitoringBase", payload, call_result.SetMonitoringBase(status="Accepted"))

    @on(Action.set_monitoring_level)
    async def on_set_monitoring_level(self, **payload: Any) -> Any:
        return await self._answer("SetMonitoringLevel", payload, call_result.SetMonitoringLevel(status="Accepted"))

    @on(Action.get_monitoring_report)
    async def on_get_monitoring_report(self, **payload: Any) -> Any:
        default = call_result.GetMonitoringReport(status="Accepted")
        return await self._answer("GetMonitoringReport", payload, default)

    @on(Action.customer_information)
    async def on_customer_information(self, **payload: Any) -> Any:
        default = call_result.CustomerInformation(status="Accepted")
        return await self._answer("CustomerInformation", payload, default)

    @on(Action.set_display_message)
    async def on_set_display_message(self, **payload: Any) -> Any:
        return await self._answer("SetDisplayMessage", payload, call_result.SetDisplayMessage(status="Accepted"))

    @on(Action.get_display_messages)
    async def on_get_display_messages(self, **payload: Any) -> Any:
        return await self._answer("GetDisplayMessages", payload, call_result.GetDisplayMessages(status="Accepted"))

    @on(Action.clear_display_message)
    async def on_clear_display_message(self, **payload: Any) -> Any:
        default = call_result.ClearDisplayMessage(status="Accepted")
        return await self._answer("ClearDisplayMessage", payload, default)

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        answer = await self._answer("SetChargingProfile", payload, call_result.SetChargingProfile(status="Accepted"))
        if is_accepted(answer):
            keep_profile(self.profiles, payload)
        return answer

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **payload: Any) -> Any:
        answer = await self._answer(
            "ClearChargingProfile", payload, call_result.ClearChargingProfile(status="Accepted")
        )
        if is_accepted(answer):
            self.profiles.clear(read_clear(payload))
        return answer

    @on(Action.get_charging_profiles)
    async def on_get_charging_profiles(self, **payload: Any) -> Any:
        default = call_result.GetChargingProfiles(status="NoProfiles")
        return await self._answer("GetChargingProfiles", payload, default)

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, **payload: Any) -> Any:
        """The composite schedule of the profiles it holds for the EVSE (Rejected while it holds none)."""
        evse_id, duration = payload["evse_id"], payload["duration"]
        default = call_result.GetCompositeSchedule(status="Rejected")
        if self.profiles.holds_any_for(evse_id):
            now = datetime.now(UTC)
            unit = payload.get("charging_rate_unit") or "A"
            periods = self.profiles.composite_schedule(evse_id, now, duration, unlimited_a=self.behaviour.max_current_a)
            schedule = {
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": iso(now),
                "charging_rate_unit": unit,
                "charging_schedule_period": [
                    {"start_period": period.start_period, "limit": in_unit(period.limit_a, unit)} for period in periods
                ],
            }
            default = call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)
        return await self._answer("GetCompositeSchedule", payload, default)

    # -- 2.1's tariff calls (a 2.0.1 station is never sent them) ------------------------------

    @on("SetDefaultTariff")
    async def on_set_default_tariff(self, **payload: Any) -> Any:
        return await self._answer("SetDefaultTariff", payload, call_result_21.SetDefaultTariff(status="Accepted"))

    @on("GetTariffs")
    async def on_get_tariffs(self, **payload: Any) -> Any:
        return await self._answer("GetTariffs", payload, call_result_21.GetTariffs(status="NoTariff"))

    @on("ClearTariffs")
    async def on_clear_tariffs(self, **payload: Any) -> Any:
        return await self._answer(
            "ClearTariffs", payload, call_result_21.ClearTariffs(clear_tariffs_result=[{"status": "NoTariff"}])
        )

    @on("ChangeTransactionTariff")
    async def on_change_transaction_tariff(self, **payload: Any) -> Any:
        default = call_result_21.ChangeTransactionTariff(status="Accepted")
        return await self._answer("ChangeTransactionTariff", payload, default)


def _currents(current_a: float | None, offered_a: float | None, context: str) -> list[dict[str, Any]]:
    """The sampled values of the current drawn on each phase and of the current offered, in A."""
    amps = {"unit": "A"}
    drawn = (
        [
            {
                "value": round(current_a, 1),
                "context": context,
                "measurand": "Current.Import",
                "phase": phase,
                "unitOfMeasure": amps,
            }
            for phase in ("L1", "L2", "L3")
        ]
        if current_a is not None
        else []
    )
    if offered_a is not None:
        drawn.append(
            {"value": round(offered_a, 1), "context": context, "measurand": "Current.Offered", "unitOfMeasure": amps}
        )
    return drawn


@contextlib.asynccontextmanager
async def connect_station(
    base_url: str,
    station_id: str,
    password: str | None,
    *,
    behaviour: StationBehaviour | None = None,
    subprotocols: list[str] | None = None,
    station_class: type[SimulatedStation] = SimulatedStation,
    ssl: SSLContext | None = None,
    open_timeout: float = 10,
    ocpp_version: str = "2.0.1",
) -> AsyncIterator[SimulatedStation]:
    """Connect a simulated 2.0.1 (or 2.1) station to `base_url` (ws://host:port) and run its receive loop."""
    headers = {"Authorization": basic_auth_header(station_id, password)} if password is not None else {}
    offered = subprotocols if subprotocols is not None else [SUBPROTOCOLS[ocpp_version]]
    async with websockets.connect(
        f"{base_url}/ocpp/{station_id}",
        subprotocols=[Subprotocol(name) for name in offered],
        additional_headers=headers,
        open_timeout=open_timeout,
        ping_interval=None,
        ssl=ssl,
    ) as websocket:
        station = station_class(station_id, websocket, behaviour, ocpp_version=ocpp_version)
        receive_loop = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            await stop_task(receive_loop)
