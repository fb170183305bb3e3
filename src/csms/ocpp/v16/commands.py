"""csms's commands as OCPP 1.6 calls, and the charger's answers read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.commands import (
    CancelReservation,
    ChangePassword,
    ChargerCommand,
    ClearDisplayMessage,
    ClearMonitor,
    GetLocalListVersion,
    ListedToken,
    PublishFirmware,
    RemoteStart,
    RemoteStop,
    RequestCustomerInformation,
    ReserveNow,
    SendLocalList,
    SetMonitor,
    ShowDisplayMessage,
    TriggerMessage,
    UnpublishFirmware,
    UpdateFirmware,
    UploadLog,
)
from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.configuration import AUTHORIZATION_KEY


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 1.6 action and payload that carry out `command`."""
    if isinstance(command, RemoteStart):
        return "RemoteStartTransaction", {"idTag": command.id_token, "connectorId": command.connector_id}
    if isinstance(command, RemoteStop):
        return "RemoteStopTransaction", {"transactionId": command.transaction_id}
    if isinstance(command, SendLocalList):
        return "SendLocalList", {
            "listVersion": command.version_number,
            "updateType": command.update_type,
            "localAuthorizationList": [_authorization_data(entry) for entry in command.entries],
        }
    if isinstance(command, GetLocalListVersion):
        return "GetLocalListVersion", {}
    if isinstance(command, ReserveNow):
        return "ReserveNow", _reserve_now(command)
    if isinstance(command, CancelReservation):
        return "CancelReservation", {"reservationId": command.reservation_id}
    if isinstance(command, UpdateFirmware):
        return _update_firmware(command)
    if isinstance(command, UploadLog):
        return _upload_log(command)
    if isinstance(command, TriggerMessage):
        return "TriggerMessage", {"requestedMessage": command.requested_message}
    if isinstance(command, PublishFirmware | UnpublishFirmware):
        raise RpcError.because(ErrorKind.NOT_SUPPORTED, "OCPP 1.6 has no local controllers to publish firmware")
    if isinstance(
        command, RequestCustomerInformation | ShowDisplayMessage | ClearDisplayMessage | SetMonitor | ClearMonitor
    ):
        # OCPP 2.x blocks N (monitoring, customer information) and O (display messages) have no 1.6 call.
        raise RpcError.because(ErrorKind.NOT_SUPPORTED, "OCPP 1.6 has no such call (not supported on 1.6)")
    return "ChangeConfiguration", {"key": AUTHORIZATION_KEY, "value": authorization_key(command)}


def authorization_key(command: ChangePassword) -> str:
    """The password hex-encoded, as the whitepaper asks of AuthorizationKey."""
    return command.password.encode("ascii").hex().upper()


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the charger's answer (already checked against its schema)."""
    if isinstance(command, GetLocalListVersion):
        return {"versionNumber": answer["listVersion"]}
    if isinstance(command, UpdateFirmware):
        return {"status": answer.get("status")}  # UpdateFirmware's answer is empty; SignedUpdateFirmware's says
    if isinstance(command, UploadLog) and command.log_type is None:
        # GetDiagnostics: no fileName means the charger has no diagnostics to send (§6.21).
        file_name = answer.get("fileName")
        return {"status": "Accepted" if file_name else "NoDiagnostics", "file_name": file_name}
    if isinstance(command, UploadLog):
        return {"status": answer["status"], "file_name": answer.get("filename")}
    return {"status": answer["status"]}


def read_call(action: str, payload: Payload) -> ChargerCommand | None:
    """The command an operator's own 1.6 call is, when csms keeps what it changes; None otherwise."""
    if action == "GetLocalListVersion":
        return GetLocalListVersion()
    if action == "ReserveNow":
        return ReserveNow(
            reservation_id=int(payload["reservationId"]),
            connector_id=int(payload["connectorId"]),
            id_token=str(payload["idTag"]),
            expires_at=parse_ocpp_timestamp(str(payload["expiryDate"])),
            group_id_token=payload.get("parentIdTag"),
        )
    if action == "CancelReservation":
        return CancelReservation(int(payload["reservationId"]))
    if action != "SendLocalList":
        return None
    entries = tuple(_listed_token(item) for item in payload.get("localAuthorizationList", []))
    return SendLocalList(int(payload["listVersion"]), str(payload["updateType"]), entries)


def _reserve_now(command: ReserveNow) -> Payload:
    if command.connector_type is not None:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, "1.6 reserves a connector by its id, not by its type")
    payload: Payload = {
        "connectorId": command.connector_id,
        "expiryDate": format_ocpp_timestamp(command.expires_at),
        "idTag": command.id_token,
        "reservationId": command.reservation_id,
    }
    if command.group_id_token:
        payload["parentIdTag"] = command.group_id_token
    return payload


def _authorization_data(entry: ListedToken) -> Payload:
    """A 1.6 AuthorizationData; a removal is an idTag without idTagInfo (§5.15)."""
    if entry.status is None:
        return {"idTag": entry.id_token}
    info: dict[str, Any] = {"status": entry.status}
    if entry.expiry is not None:
        info["expiryDate"] = format_ocpp_timestamp(entry.expiry)
    if entry.group_id_token is not None:
        info["parentIdTag"] = entry.group_id_token
    return {"idTag": entry.id_token, "idTagInfo": info}


def _listed_token(item: Payload) -> ListedToken:
    info = item.get("idTagInfo")
    if info is None:
        return ListedToken(item["idTag"])
    expiry = info.get("expiryDate")
    return ListedToken(
        item["idTag"],
        info["status"],
        parse_ocpp_timestamp(expiry) if expiry else None,
        info.get("parentIdTag"),
    )


def _update_firmware(command: UpdateFirmware) -> tuple[str, Payload]:
    """UpdateFirmware, or the security extensions' SignedUpdateFirmware for a signed image."""
    retry = _present({"retries": command.retries, "retryInterval": command.retry_interval})
    retrieve = format_ocpp_timestamp(command.retrieve_at)
    if not command.is_signed:
        return "UpdateFirmware", {"location": command.location, "retrieveDate": retrieve, **retry}
    image = {
        "location": command.location,
        "retrieveDateTime": retrieve,
        "signingCertificate": command.signing_certificate,
        "signature": command.signature,
    }
    return "SignedUpdateFirmware", {"requestId": command.request_id, "firmware": image, **retry}


def _upload_log(command: UploadLog) -> tuple[str, Payload]:
    """GetDiagnostics, or the security extensions' GetLog for a log of a type."""
    retry = {"retries": command.retries, "retryInterval": command.retry_interval}
    if command.log_type is None:
        window = {"startTime": _timestamp(command.oldest), "stopTime": _timestamp(command.latest)}
        return "GetDiagnostics", {"location": command.location, **_present({**retry, **window})}
    window = {"oldestTimestamp": _timestamp(command.oldest), "latestTimestamp": _timestamp(command.latest)}
    log = {"remoteLocation": command.location, **_present(window)}
    return "GetLog", {"requestId": command.request_id, "logType": command.log_type, "log": log, **_present(retry)}


def _timestamp(moment: datetime | None) -> str | None:
    return format_ocpp_timestamp(moment) if moment is not None else None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
