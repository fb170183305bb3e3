"""csms's commands as OCPP 1.6 calls, and the charger's answers read back."""

from __future__ import annotations

from csms.domain.commands import ChangePassword, ChargerCommand, RemoteStart, RemoteStop
from csms.ocpp.rpc import Payload
from csms.services.configuration import AUTHORIZATION_KEY


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 1.6 action and payload that carry out `command`."""
    if isinstance(command, RemoteStart):
        return "RemoteStartTransaction", {"idTag": command.id_token, "connectorId": command.connector_id}
    if isinstance(command, RemoteStop):
        return "RemoteStopTransaction", {"transactionId": command.transaction_id}
    return "ChangeConfiguration", {"key": AUTHORIZATION_KEY, "value": authorization_key(command)}


def authorization_key(command: ChangePassword) -> str:
    """The password hex-encoded, as the whitepaper asks of AuthorizationKey."""
    return command.password.encode("ascii").hex().upper()


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the charger's answer (already checked against its schema)."""
    return {"status": answer["status"]}
