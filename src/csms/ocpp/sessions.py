"""The sessions of this node's chargers: what every session shares, and the one place they are made."""

from __future__ import annotations

from csms.observability.metrics import Metrics, ocpp_result_label
from csms.ocpp.rpc import Connection, MessageType, OcppVersion, RpcLimits, RpcSession
from csms.ocpp.versions import SupportedVersion
from csms.runtime import Runtime
from csms.services.message_log import MessageLog
from csms.services.security_log import RepeatedEvents

MESSAGE_BUDGET_EXCEEDED = "ocpp_message_budget_exceeded"
_UNCONFIRMED_KINDS: dict[int, str] = {MessageType.SEND: "send", MessageType.CALL_RESULT_ERROR: "callresulterror"}


class NodeObserver:
    """Reports every session's frames to the message log, its answers to metrics, and floods to the
    security events (counted in one event per period, not one per frame)."""

    __slots__ = ("_flood_detail", "_message_log", "_metrics", "_security_events")

    def __init__(self, message_log: MessageLog, metrics: Metrics, security_events: RepeatedEvents, rate: float):
        self._message_log = message_log
        self._metrics = metrics
        self._security_events = security_events
        self._flood_detail = f"frames beyond {rate:g} a second were refused unread"

    def frame(
        self,
        charge_point_id: str,
        version: str,
        direction: str,
        frame: str,
        *,
        message_type: int | None,
        unique_id: str | None,
        action: str | None,
    ) -> None:
        self._message_log.record(
            charge_point_id,
            direction,
            frame,
            ocpp_version=version,
            message_type=message_type,
            unique_id=unique_id,
            action=action,
        )

    def answer(self, version: OcppVersion, *, origin: str, action: str | None, error_code: str | None) -> None:
        result = ocpp_result_label(error_code, version.errors.codes)
        self._metrics.count_ocpp_answer(version=version.name, origin=origin, action=action, result=result)

    def unconfirmed(self, version: OcppVersion, *, message_type: int, action: str | None, result: str) -> None:
        kind = _UNCONFIRMED_KINDS.get(message_type, str(message_type))
        if message_type == MessageType.CALL_RESULT_ERROR:
            result = ocpp_result_label(result, version.errors.codes)
        self._metrics.count_ocpp_unconfirmed(version=version.name, message_type=kind, action=action, result=result)

    def over_budget(self, charge_point_id: str) -> None:
        self._security_events.record(
            kind=MESSAGE_BUDGET_EXCEEDED,
            charge_point_id=charge_point_id,
            remote_address=None,
            detail=self._flood_detail,
        )


class ChargerSessions:
    """Makes the session of each charger that connects to this node."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._limits = RpcLimits(
            call_timeout=settings.ocpp_call_timeout,
            max_frame_bytes=settings.ocpp_max_frame_bytes,
            message_rate=settings.ocpp_message_rate,
            message_burst=settings.ocpp_message_burst,
        )
        self._observer = NodeObserver(
            runtime.message_log, runtime.metrics, runtime.security_events, settings.ocpp_message_rate
        )

    def open(self, charge_point_id: str, connection: Connection, version: SupportedVersion) -> RpcSession:
        """The session of a charger that agreed on `version`."""
        station = version.new_station(charge_point_id, self._runtime)
        return RpcSession(
            charge_point_id,
            connection,
            version=version.rpc,
            station=station,
            limits=self._limits,
            observer=self._observer,
        )
