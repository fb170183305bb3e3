"""csms's commands as OCPP 2.0.1 calls, and the station's answers read back."""

from __future__ import annotations

from csms.domain.commands import ChangePassword, ChargerCommand, RemoteStart, RemoteStop
from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.services.device_model import BASIC_AUTH_PASSWORD, SECURITY_CONTROLLER


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 2.0.1 action and payload that carry out `command`; RpcError when 2.0.1 cannot say it."""
    if isinstance(command, RemoteStart):
        return "RequestStartTransaction", _request_start(command)
    if isinstance(command, RemoteStop):
        return "RequestStopTransaction", _request_stop(command)
    return "SetVariables", _set_password(command)


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the station's answer (already checked against its schema)."""
    if isinstance(command, ChangePassword):
        # One variable set: its attributeStatus (Accepted, Rejected, RebootRequired, ...) is the answer.
        return {"status": answer["setVariableResult"][0]["attributeStatus"]}
    return {"status": answer["status"]}


def _request_start(command: RemoteStart) -> Payload:
    payload: Payload = {
        "idToken": {"idToken": command.id_token, "type": command.id_token_type},
        "remoteStartId": command.remote_start_id,
    }
    if command.connector_id > 0:  # 2.0.1: the app's connector picks the EVSE
        payload["evseId"] = command.connector_id
    return payload


def _request_stop(command: RemoteStop) -> Payload:
    if command.transaction_key is None:
        # A 1.6 transaction of a charger that now speaks 2.0.1: the station has no name for it.
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, "the transaction has no 2.0.1 transactionId")
    return {"transactionId": command.transaction_key}


def _set_password(command: ChangePassword) -> Payload:
    return {
        "setVariableData": [
            {
                "component": {"name": SECURITY_CONTROLLER},
                "variable": {"name": BASIC_AUTH_PASSWORD},
                "attributeValue": command.password,
            }
        ]
    }
