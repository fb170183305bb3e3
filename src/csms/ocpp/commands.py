"""Sending CSMS-initiated OCPP calls to a charger, wherever the caller is."""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

from ocpp.charge_point import camel_to_snake_case, remove_nones, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, validate_payload
from ocpp.v16 import call
from ocpp.v16.enums import Action

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


class ChargerRejected(CommandError):
    """The charger answered with a CallError."""

    def __init__(self, error_code: str, description: str) -> None:
        super().__init__(f"the charger answered {error_code}: {description}")
        self.error_code = error_code


async def build_call(action: str, payload: dict[str, Any]) -> Any:
    """The `ocpp` package's call object for an action and its camelCase payload, schema-checked."""
    if action not in CENTRAL_SYSTEM_ACTIONS:
        raise UnknownAction(f"{action} is not an OCPP 1.6 call the central system sends")
    try:
        await validate_payload(Call("check", action, copy.deepcopy(payload)), "1.6")
        return getattr(call, action)(**camel_to_snake_case(payload))
    except OCPPError as error:
        cause = error.details.get("cause") if isinstance(error.details, dict) else None
        raise InvalidPayload(f"invalid {action} payload: {cause or error.description}") from None
    except TypeError as error:
        raise InvalidPayload(f"invalid {action} payload: {error}") from None


async def send_call(
    registry: ConnectionRegistry, charge_point_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Send one call to a charger connected to this node and return its answer, camelCase."""
    request = await build_call(action, payload)
    session = registry.get(charge_point_id)
    if session is None:
        raise ChargerNotConnected(f"charger {charge_point_id} is not connected")
    try:
        result = await session.call(request, suppress=False)
    except TimeoutError:
        raise ChargerTimeout(f"charger {charge_point_id} did not answer {action} in time") from None
    except OCPPError as error:
        # A CallError from the charger, or an answer that breaks the schema.
        raise ChargerRejected(error.code, error.description) from None
    return dict(snake_to_camel_case(remove_nones(asdict(result))))
