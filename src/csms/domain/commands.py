"""What csms asks of a charger, whatever OCPP version the charger speaks.

A `ChargerCommand` travels between nodes as it is; the node holding the charger's socket has the
charger's version package spell it as a call (`ocpp/v16/commands.py`, `ocpp/v201/commands.py`) and
read the answer back.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

# The type of an idToken csms hands out itself (the app's own tag): OCPP 2.0.1 IdTokenEnumType.
CENTRAL_ID_TYPE = "Central"


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """Start charging on a connector (1.6) or EVSE (2.x) for a token; `remote_start_id` links the
    transaction the charger reports back to this request (2.x remoteStartId)."""

    kind: ClassVar[str] = "RemoteStart"
    connector_id: int
    id_token: str
    remote_start_id: int
    id_token_type: str = CENTRAL_ID_TYPE


@dataclass(frozen=True, slots=True)
class RemoteStop:
    """Stop a transaction: `transaction_id` is csms's record id (1.6's transactionId), `transaction_key`
    the charger's own id of it (2.x transactionId; None for a 1.6 transaction)."""

    kind: ClassVar[str] = "RemoteStop"
    transaction_id: int
    transaction_key: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """Give the charger a new Basic-auth password (security profiles 1 and 2); it counts once accepted."""

    kind: ClassVar[str] = "ChangePassword"
    password: str

    def __repr__(self) -> str:  # never in a log line
        return "ChangePassword(password=...)"


ChargerCommand = RemoteStart | RemoteStop | ChangePassword


def new_remote_start_id() -> int:
    """A remoteStartId for one request: positive, fits the 32-bit integers of OCPP."""
    return 1 + secrets.randbelow(2**31 - 1)


_KINDS: dict[str, type[ChargerCommand]] = {kind.kind: kind for kind in (RemoteStart, RemoteStop, ChangePassword)}
# Commands share the bus with OCPP calls: a command's action is its kind behind this prefix, which no
# OCPP action name has.
COMMAND_PREFIX = "csms."


def command_action(command: ChargerCommand) -> str:
    return COMMAND_PREFIX + command.kind


def is_command_action(action: str) -> bool:
    return action.startswith(COMMAND_PREFIX)


def command_fields(command: ChargerCommand) -> dict[str, Any]:
    return asdict(command)


def command_from(action: str, fields: dict[str, Any]) -> ChargerCommand:
    """The command a bus message carries; ValueError for a kind or fields csms does not know."""
    kind = _KINDS.get(action.removeprefix(COMMAND_PREFIX))
    if kind is None or not is_command_action(action):
        raise ValueError(f"{action} is not a command csms knows")
    try:
        return kind(**fields)
    except TypeError as error:
        raise ValueError(f"invalid {action} fields: {error}") from None
