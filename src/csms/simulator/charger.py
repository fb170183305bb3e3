"""A simulated OCPP 1.6J charger built on the `ocpp` package's ChargePoint over `websockets`.

It sends what a real charger sends and answers the central system's calls; every call it receives
is kept in `received`, so a test can assert on the exact payload. The charging profiles it accepts are kept
in `profiles` (cleared by ClearChargingProfile, a TxProfile with its transaction), which say what a car
may draw and make its answer to GetCompositeSchedule.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ssl import SSLContext
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from csms.simulator.profiles import ChargingProfiles, in_unit, read_clear, read_profile

Answer = Callable[[dict[str, Any]], Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """A timestamp a test had the charger send; now for one it made unreadable on purpose."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_accepted(answer: Any) -> bool:
    """Whether a charger's answer (a call_result, or a dict a test made) has status Accepted."""
    status = answer.get("status") if isinstance(answer, dict) else getattr(answer, "status", None)
    return bool(status == "Accepted")


def keep_profile(profiles: ChargingProfiles, payload: dict[str, Any]) -> None:
    """Keep the profile of an accepted SetChargingProfile, unless the simulator cannot model it (2.1's
    PriorityCharging, a period without a limit)."""
    with contextlib.suppress(ValueError, KeyError):
        profiles.set(read_profile(payload, now=datetime.now(UTC)))


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended, whatever it raised. Unlike suppressing CancelledError around
    the wait, a cancellation of the caller while it waits still reaches the caller (a fleet stopping its
    members relies on it)."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def basic_auth_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class ReceivedCall:
    action: str
    payload: dict[str, Any]


class ReceivedCalls:
    """The calls a simulated charger received, in order, for tests to assert on (either version)."""

    def __init__(self) -> None:
        self.received: list[ReceivedCall] = []
        self.received_event = asyncio.Event()

    def _received(self, action: str, payload: dict[str, Any]) -> None:
        self.received.append(ReceivedCall(action, payload))
        self.received_event.set()

    async def wait_for_call(self, action: str, *, within: float = 5.0) -> ReceivedCall:
        """The first call of `action` received, waiting up to `within` seconds for it."""
        async with asyncio.timeout(within):
            while True:
                for received in self.received:
                    if received.action == action:
                        return received
                self.received_event.clear()
                await self.received_event.wait()


@dataclass
class ChargerBehaviour:
    """How the simulated charger answers the central system; override per test."""

    remote_start_status: str = "Accepted"
    remote_stop_status: str = "Accepted"
    answer_delay: float = 0.0
    answer_after: asyncio.Event | None = None  # hold every answer until this is set
    answers: dict[str, Answer] = field(default_factory=dict)
    max_current_a: float = 32.0  # what a connector gives with no profile, as its composite schedule says


class SimulatedCharger(ChargePoint, ReceivedCalls):  # type: ignore[misc]
    def __init__(self, charge_point_id: str, connection: Any, behaviour: ChargerBehaviour | None = None) -> None:
        ChargePoint.__init__(self, charge_point_id, connection, response_timeout=30)
        ReceivedCalls.__init__(self)
        self.behaviour = behaviour or ChargerBehaviour()
        self.websocket = connection  # for frames sent outside the package's call-and-wait
        self.profiles = ChargingProfiles()

    # -- what a charger sends ----------------------------------------------------------------

    async def boot(self, *, vendor: str = "csms-sim", model: str = "SimCharger", **extra: Any) -> Any:
        return await self.call(call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, **extra))

    async def heartbeat(self) -> Any:
        return await self.call(call.Heartbeat())

    async def status(self, connector_id: int, status: str, *, error_code: str = "NoError", **extra: Any) -> Any:
        return await self.call(
            call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status, **extra)
        )

    async def authorize(self, id_tag: str) -> Any:
        return await self.call(call.Authorize(id_tag=id_tag))

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        *,
        meter_start: int = 0,
        timestamp: str | None = None,
        **extra: Any,
    ) -> Any:
        at = timestamp or now_iso()
        started = await self.call(
            call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=at, **extra
            )
        )
        if started is not None:  # None: csms answered with an error
            self.profiles.transaction_started(connector_id, str(started.transaction_id), parse_iso(at))
        return started

    async def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        energy_wh: int,
        *,
        timestamp: str | None = None,
        power_w: float = 7400,
        current_a: float | None = None,
        offered_a: float | None = None,
    ) -> Any:
        """A meter value of the register and the power; with `current_a` the current drawn on each of L1, L2
        and L3, with `offered_a` the current the charger offers the car (the limit in force)."""
        sampled = [
            {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
        ]
        if current_a is not None:
            sampled += [
                {"value": f"{current_a:.1f}", "measurand": "Current.Import", "unit": "A", "phase": phase}
                for phase in ("L1", "L2", "L3")
            ]
        if offered_a is not None:
            sampled.append({"value": f"{offered_a:.1f}", "measurand": "Current.Offered", "unit": "A"})
        sample = {"timestamp": timestamp or now_iso(), "sampledValue": sampled}
        return await self.call(
            call.MeterValues(connector_id=connector_id, meter_value=[sample], transaction_id=transaction_id)
        )

    async def firmware_status(self, status: str) -> Any:
        return await self.call(call.FirmwareStatusNotification(status=status))

    async def diagnostics_status(self, status: str) -> Any:
        return await self.call(call.DiagnosticsStatusNotification(status=status))

    async def security_event(self, type: str, *, tech_info: str | None = None, timestamp: str | None = None) -> Any:
        return await self.call(
            call.SecurityEventNotification(type=type, timestamp=timestamp or now_iso(), tech_info=tech_info)
        )

    async def signed_firmware_status(self, status: str, request_id: int) -> Any:
        return await self.call(call.SignedFirmwareStatusNotification(status=status, request_id=request_id))

    async def log_status(self, status: str, request_id: int) -> Any:
        return await self.call(call.LogStatusNotification(status=status, request_id=request_id))

    async def sign_certificate(self, csr: str) -> Any:
        return await self.call(call.SignCertificate(csr=csr))

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, *, timestamp: str | None = None, **extra: Any
    ) -> Any:
        stopped = await self.call(
            call.StopTransaction(
                transaction_id=transaction_id,
                meter_stop=meter_stop,
                timestamp=timestamp or now_iso(),
                **extra,
            )
        )
        connector_id = self.profiles.connector_of(str(transaction_id))
        if connector_id is not None:
            self.profiles.transaction_ended(connector_id)
        return stopped

    # -- what a charger answers --------------------------------------------------------------

    async def _answer(self, action: str, payload: dict[str, Any], default: Any) -> Any:
        self._received(action, payload)
        if self.behaviour.answer_delay:
            await asyncio.sleep(self.behaviour.answer_delay)
        if self.behaviour.answer_after is not None:
            await self.behaviour.answer_after.wait()
        custom = self.behaviour.answers.get(action)
        return custom(payload) if custom else default

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        default = call_result.RemoteStartTransaction(status=self.behaviour.remote_start_status)
        return await self._answer("RemoteStartTransaction", payload, default)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, **payload: Any) -> Any:
        default = call_result.RemoteStopTransaction(status=self.behaviour.remote_stop_status)
        return await self._answer("RemoteStopTransaction", payload, default)

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        return await self._answer("Reset", payload, call_result.Reset(status="Accepted"))

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, **payload: Any) -> Any:
        return await self._answer("UnlockConnector", payload, call_result.UnlockConnector(status="Unlocked"))

    @on(Action.change_availability)
    async def on_change_availability(self, **payload: Any) -> Any:
        return await self._answer("ChangeAvailability", payload, call_result.ChangeAvailability(status="Accepted"))

    @on(Action.get_configuration)
    async def on_get_configuration(self, **payload: Any) -> Any:
        default = call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )
        return await self._answer("GetConfiguration", payload, default)

    @on(Action.change_configuration)
    async def on_change_configuration(self, **payload: Any) -> Any:
        return await self._answer("ChangeConfiguration", payload, call_result.ChangeConfiguration(status="Accepted"))

    @on(Action.trigger_message)
    async def on_trigger_message(self, **payload: Any) -> Any:
        return await self._answer("TriggerMessage", payload, call_result.TriggerMessage(status="Accepted"))

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> Any:
        return await self._answer("DataTransfer", payload, call_result.DataTransfer(status="Accepted"))

    @on(Action.clear_cache)
    async def on_clear_cache(self, **payload: Any) -> Any:
        return await self._answer("ClearCache", payload, call_result.ClearCache(status="Accepted"))

    @on(Action.reserve_now)
    async def on_reserve_now(self, **payload: Any) -> Any:
        return await self._answer("ReserveNow", payload, call_result.ReserveNow(status="Accepted"))

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, **payload: Any) -> Any:
        return await self._answer("CancelReservation", payload, call_result.CancelReservation(status="Accepted"))

    @on(Action.send_local_list)
    async def on_send_local_list(self, **payload: Any) -> Any:
        return await self._answer("SendLocalList", payload, call_result.SendLocalList(status="Accepted"))

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **payload: Any) -> Any:
        return await self._answer("GetLocalListVersion", payload, call_result.GetLocalListVersion(list_version=0))

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

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, **payload: Any) -> Any:
        """The composite schedule of the profiles it holds for the connector (Rejected while it holds none)."""
        connector_id, duration = payload["connector_id"], payload["duration"]
        default = call_result.GetCompositeSchedule(status="Rejected")
        if self.profiles.holds_any_for(connector_id):
            now = datetime.now(UTC)
            unit = payload.get("charging_rate_unit") or "A"
            periods = self.profiles.composite_schedule(
                connector_id, now, duration, unlimited_a=self.behaviour.max_current_a
            )
            schedule = {
                "duration": duration,
                "charging_rate_unit": unit,
                "charging_schedule_period": [
                    {"start_period": period.start_period, "limit": in_unit(period.limit_a, unit)} for period in periods
                ],
            }
            default = call_result.GetCompositeSchedule(
                status="Accepted",
                connector_id=connector_id,
                schedule_start=iso(now),
                charging_schedule=schedule,
            )
        return await self._answer("GetCompositeSchedule", payload, default)

    @on(Action.update_firmware)
    async def on_update_firmware(self, **payload: Any) -> Any:
        return await self._answer("UpdateFirmware", payload, call_result.UpdateFirmware())

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, **payload: Any) -> Any:
        return await self._answer("GetDiagnostics", payload, call_result.GetDiagnostics(file_name="diagnostics.log"))

    # -- the security whitepaper's calls ------------------------------------------------------

    @on(Action.extended_trigger_message)
    async def on_extended_trigger_message(self, **payload: Any) -> Any:
        default = call_result.ExtendedTriggerMessage(status="Accepted")
        return await self._answer("ExtendedTriggerMessage", payload, default)

    @on(Action.signed_update_firmware)
    async def on_signed_update_firmware(self, **payload: Any) -> Any:
        default = call_result.SignedUpdateFirmware(status="Accepted")
        return await self._answer("SignedUpdateFirmware", payload, default)

    @on(Action.get_log)
    async def on_get_log(self, **payload: Any) -> Any:
        return await self._answer("GetLog", payload, call_result.GetLog(status="Accepted", filename="security.log"))

    @on(Action.certificate_signed)
    async def on_certificate_signed(self, **payload: Any) -> Any:
        return await self._answer("CertificateSigned", payload, call_result.CertificateSigned(status="Accepted"))

    @on(Action.install_certificate)
    async def on_install_certificate(self, **payload: Any) -> Any:
        return await self._answer("InstallCertificate", payload, call_result.InstallCertificate(status="Accepted"))

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, **payload: Any) -> Any:
        return await self._answer("DeleteCertificate", payload, call_result.DeleteCertificate(status="Accepted"))

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, **payload: Any) -> Any:
        default = call_result.GetInstalledCertificateIds(status="NotFound")
        return await self._answer("GetInstalledCertificateIds", payload, default)


@contextlib.asynccontextmanager
async def connect_charger(
    base_url: str,
    charge_point_id: str,
    password: str | None,
    *,
    behaviour: ChargerBehaviour | None = None,
    subprotocols: list[str] | None = None,
    charger_class: type[SimulatedCharger] = SimulatedCharger,
    ssl: SSLContext | None = None,
    open_timeout: float = 10,
) -> AsyncIterator[SimulatedCharger]:
    """Connect a simulated charger to `base_url` (ws://host:port, or wss:// with `ssl`) and run its receive loop.

    `open_timeout` bounds the WebSocket handshake, as a real charger's connect timeout does.
    """
    headers = {"Authorization": basic_auth_header(charge_point_id, password)} if password is not None else {}
    async with websockets.connect(
        f"{base_url}/ocpp/{charge_point_id}",
        subprotocols=[Subprotocol(name) for name in (subprotocols if subprotocols is not None else ["ocpp1.6"])],
        additional_headers=headers,
        open_timeout=open_timeout,
        ping_interval=None,
        ssl=ssl,
    ) as websocket:
        charger = charger_class(charge_point_id, websocket, behaviour)
        receive_loop = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            await stop_task(receive_loop)
