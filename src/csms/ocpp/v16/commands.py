"""csms's commands as OCPP 1.6 calls, and the charger's answers read back."""

from __future__ import annotations

from csms.domain.commands import ChargerCommand, RemoteStart
from csms.ocpp.rpc import Payload


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 1.6 action and payload that carry out `command`."""
    if isinstance(command, RemoteStart):
        return "RemoteStartTransaction", {"idTag": command.id_token, "connectorId": command.connector_id}
    return "RemoteStopTransaction", {"transactionId": command.transaction_id}


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the charger's answer (already checked against its schema)."""
    return {"status": answer["status"]}
