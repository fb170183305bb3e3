"""Sending CSMS-initiated OCPP calls to a charger, wherever the caller is."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult, MessageType, validate_payload
from ocpp.v16 import call
from ocpp.v16.enums import Action

from csms.bus import Bus, BusUnavailable, Message, NoResponders, RequestTimeout, ResponderHandle, command_subject
from csms.observability.metrics import Metrics
from csms.ocpp.frames import passes_compiled_schema
from csms.ocpp.keys import snake_case_keys
from csms.ocpp.registry import ConnectionRegistry

# Calls the central system may send to a charger (OCPP 1.6 and the security whitepaper's additions).
CENTRAL_SYSTEM_ACTIONS = frozenset(
    action.value
    for action in Action
    if action.value
    not in {
        "Authorize",
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)


# How much longer than a call's timeout a node waits for the holding node's answer over the bus, so
# that the holding node reports a timeout itself (the charger's silence, not a lost bus message).
_BUS_GRACE = 2.0


class CommandError(Exception):
    """A call that could not be carried out; the message is safe to show."""


class UnknownAction(CommandError):
    pass


class InvalidPayload(CommandError):
    pass


class ChargerNotConnected(CommandError):
    pass


class ChargerTimeout(CommandError):
    pass


class CallNotSent(TimeoutError):
    """A call that waited for the charger's earlier calls until its deadline, and was never sent."""


class MessageBusDown(CommandError):
    """The bus to the other nodes is unreachable, so a charger connected elsewhere cannot be reached."""


class ChargerRejected(CommandError):
    """The charger answered with a CallError."""

    def __init__(self, error_code: str, description: str) -> None:
        super().__init__(f"the charger answered {error_code}: {description}")
        self.error_code = error_code
        self.description = description


async def check_call(action: str, payload: dict[str, Any]) -> None:
    """Refuse an action the central system does not send, or a payload that breaks the package's 1.6 schema."""
    if action not in CENTRAL_SYSTEM_ACTIONS:
        raise UnknownAction(f"{action} is not an OCPP 1.6 call the central system sends")
    if passes_compiled_schema(MessageType.Call, action, payload):
        return
    try:
        await validate_payload(Call("check", action, copy.deepcopy(payload)), "1.6")
        getattr(call, action)(**snake_case_keys(payload))  # the package's own idea of the fields
    except OCPPError as error:
        cause = error.details.get("cause") if isinstance(error.details, dict) else None
        raise InvalidPayload(f"invalid {action} payload: {cause or error.description}") from None
    except TypeError as error:
        raise InvalidPayload(f"invalid {action} payload: {error}") from None


class CommandRouter:
    """The one place that sends a call to a charger, on this node or through the bus to the node holding it."""

    def __init__(
        self, registry: ConnectionRegistry, bus: Bus, *, call_timeout: float, metrics: Metrics | None = None
    ) -> None:
        self._registry = registry
        self._bus = bus
        self._call_timeout = call_timeout
        self._metrics = metrics or Metrics()

    async def send(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one call and return the charger's answer (camelCase), or raise a CommandError.

        The call timeout counts from here, on whichever node holds the charger: ChargerTimeout comes
        within it even when earlier calls to the same charger are still waiting for their answers.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._call_timeout
        await check_call(action, payload)
        if self._registry.get(charge_point_id) is not None:
            return await self._send_here(charge_point_id, action, payload, within=deadline - loop.time())
        message = {"action": action, "payload": payload, "within": deadline - loop.time()}
        try:
            # A little longer than the call's own timeout, so the holding node reports it first.
            reply = await self._bus.request(
                command_subject(charge_point_id), message, within=deadline - loop.time() + _BUS_GRACE
            )
        except NoResponders:
            raise ChargerNotConnected(f"charger {charge_point_id} is not connected") from None
        except RequestTimeout:
            raise ChargerTimeout(f"charger {charge_point_id} did not answer {action} in time") from None
        except BusUnavailable as error:
            raise MessageBusDown(f"the message bus is unavailable ({error}); try again shortly") from error
        return _unpack(reply)

    async def serve(self, charge_point_id: str) -> ResponderHandle:
        """Answer other nodes' calls for a charger connected here."""

        async def answer(message: Message) -> Message:
            try:
                action, payload = str(message["action"]), dict(message["payload"])
                await check_call(action, payload)
                within = self._remaining_time(message)
                return {"result": await self._send_here(charge_point_id, action, payload, within=within)}
            except CommandError as error:
                return {"error": _pack(error)}

        return await self._bus.serve(command_subject(charge_point_id), answer)

    def _remaining_time(self, message: Message) -> float:
        """The time left of a call from another node (its own timeout, less the trip), at most ours."""
        remaining = message.get("within")
        if isinstance(remaining, int | float) and not isinstance(remaining, bool):
            return max(0.0, min(float(remaining), self._call_timeout))
        return self._call_timeout  # from a node that sends no timeout

    async def _send_here(
        self, charge_point_id: str, action: str, payload: dict[str, Any], *, within: float
    ) -> dict[str, Any]:
        session = self._registry.get(charge_point_id)
        if session is None:
            raise ChargerNotConnected(f"charger {charge_point_id} is not connected")
        started = time.perf_counter()
        try:
            answer = await session.request(action, payload, within=within)
        except CallNotSent:
            self._metrics.observe_call(action, "timeout", time.perf_counter() - started)
            raise ChargerTimeout(
                f"charger {charge_point_id} was still busy with earlier calls; {action} was not sent in time"
            ) from None
        except TimeoutError:
            self._metrics.observe_call(action, "timeout", time.perf_counter() - started)
            raise ChargerTimeout(f"charger {charge_point_id} did not answer {action} in time") from None
        except OCPPError as error:
            self._metrics.observe_call(action, "call_error", time.perf_counter() - started)
            raise ChargerRejected(error.code, error.description) from None
        self._metrics.observe_call(action, "answered", time.perf_counter() - started)
        await _check_answer(action, answer)
        return answer


async def _check_answer(action: str, answer: dict[str, Any]) -> None:
    if passes_compiled_schema(MessageType.CallResult, action, answer):
        return
    checked = CallResult("check", copy.deepcopy(answer))
    checked.action = action
    try:
        await validate_payload(checked, "1.6")
    except OCPPError as error:
        raise ChargerRejected(error.code, f"the charger's {action} answer breaks the schema") from None


_ERROR_KINDS: dict[str, type[CommandError]] = {
    "not_connected": ChargerNotConnected,
    "timeout": ChargerTimeout,
    "invalid_payload": InvalidPayload,
    "unknown_action": UnknownAction,
}


def _pack(error: CommandError) -> dict[str, str]:
    if isinstance(error, ChargerRejected):
        return {"kind": "rejected", "code": error.error_code, "detail": error.description}
    kind = next((name for name, kind in _ERROR_KINDS.items() if isinstance(error, kind)), "failed")
    return {"kind": kind, "detail": str(error)}


def _unpack(reply: Message) -> dict[str, Any]:
    if "result" in reply:
        return dict(reply["result"])
    error = reply.get("error", {})
    if error.get("kind") == "rejected":
        raise ChargerRejected(str(error.get("code")), str(error.get("detail")))
    raise _ERROR_KINDS.get(str(error.get("kind")), CommandError)(str(error.get("detail", "the command failed")))
