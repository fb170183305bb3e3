"""csms's commands as OCPP 2.0.1 calls, and the station's answers read back."""

from __future__ import annotations

from csms.domain.commands import ChargerCommand, RemoteStart
from csms.ocpp.rpc import ErrorKind, Payload, RpcError


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 2.0.1 action and payload that carry out `command`; RpcError when 2.0.1 cannot say it."""
    if isinstance(command, RemoteStart):
        payload: Payload = {
            "idToken": {"idToken": command.id_token, "type": command.id_token_type},
            "remoteStartId": command.remote_start_id,
        }
        if command.connector_id > 0:  # 2.0.1: the app's connector picks the EVSE
            payload["evseId"] = command.connector_id
        return "RequestStartTransaction", payload
    if command.transaction_key is None:
        # A 1.6 transaction of a charger that now speaks 2.0.1: the station has no name for it.
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, "the transaction has no 2.0.1 transactionId")
    return "RequestStopTransaction", {"transactionId": command.transaction_key}


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the station's answer (already checked against its schema)."""
    return {"status": answer["status"]}
