"""csms's commands as OCPP 1.6 calls, and the charger's answers read back."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import (
    CancelReservation,
    ChangePassword,
    ChargerCommand,
    GetLocalListVersion,
    ListedToken,
    RemoteStart,
    RemoteStop,
    ReserveNow,
    SendLocalList,
)
from csms.ocpp.rpc import Payload
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
    return "ChangeConfiguration", {"key": AUTHORIZATION_KEY, "value": authorization_key(command)}


def authorization_key(command: ChangePassword) -> str:
    """The password hex-encoded, as the whitepaper asks of AuthorizationKey."""
    return command.password.encode("ascii").hex().upper()


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the charger's answer (already checked against its schema)."""
    if isinstance(command, GetLocalListVersion):
        return {"versionNumber": answer["listVersion"]}
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
