"""csms's commands as OCPP 1.6 calls, and the charger's answers read back."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import (
    STATION_MAX_PROFILE,
    CancelReservation,
    ChangePassword,
    ChargerCommand,
    ChargingProfileValue,
    ClearChargingProfile,
    ClearDisplayMessage,
    ClearMonitor,
    GetCompositeSchedule,
    GetLocalListVersion,
    GetVariables,
    ListedToken,
    PublishFirmware,
    RemoteStart,
    RemoteStop,
    RequestBaseReport,
    RequestCustomerInformation,
    ReserveNow,
    SendLocalList,
    SetChargingProfile,
    SetDefaultTariff,
    SetMonitor,
    SetVariables,
    ShowDisplayMessage,
    TriggerMessage,
    UnpublishFirmware,
    UpdateFirmware,
    UploadLog,
)
from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.ocpp.shared_spelling import (
    present,
    read_schedule_period,
    read_timestamp,
    schedule_period,
    schedule_period_fields,
    timestamp,
)
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
        command,
        RequestCustomerInformation
        | ShowDisplayMessage
        | ClearDisplayMessage
        | SetMonitor
        | ClearMonitor
        | SetVariables
        | GetVariables
        | RequestBaseReport,
    ):
        # OCPP 2.x blocks N (monitoring, customer information), O (display messages) and B's device model
        # have no 1.6 call (1.6 has configuration keys instead).
        raise RpcError.because(ErrorKind.NOT_SUPPORTED, "OCPP 1.6 has no such call (not supported on 1.6)")
    if isinstance(command, SetChargingProfile):
        profile = _profile(command.profile)
        return "SetChargingProfile", {"connectorId": command.connector_id, "csChargingProfiles": profile}
    if isinstance(command, ClearChargingProfile):
        return "ClearChargingProfile", _clear_charging_profile(command)
    if isinstance(command, GetCompositeSchedule):
        return "GetCompositeSchedule", _get_composite_schedule(command)
    if isinstance(command, SetDefaultTariff):
        raise RpcError.because(ErrorKind.NOT_SUPPORTED, "OCPP 1.6 keeps no tariffs on the charger (2.1 does)")
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
    if isinstance(command, GetCompositeSchedule):
        return {"status": answer["status"], "schedule": _composite_schedule(answer)}
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
    if action == "SetChargingProfile":
        return SetChargingProfile(int(payload["connectorId"]), read_profile(payload["csChargingProfiles"]))
    if action == "RemoteStartTransaction" and "chargingProfile" in payload:
        # What csms keeps of it: the TxProfile it puts on the connector asked for, as SetChargingProfile's
        # would be (§5.11; 0: the charger picks one). Its answer's status says whether it is there.
        return SetChargingProfile(int(payload.get("connectorId", 0)), read_profile(payload["chargingProfile"]))
    if action == "ClearChargingProfile":
        return ClearChargingProfile(
            profile_id=payload.get("id"),
            connector_id=payload.get("connectorId"),
            purpose=_neutral_purpose(payload.get("chargingProfilePurpose")),
            stack_level=payload.get("stackLevel"),
        )
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
    retry = present({"retries": command.retries, "retryInterval": command.retry_interval})
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
        window = {"startTime": timestamp(command.oldest), "stopTime": timestamp(command.latest)}
        return "GetDiagnostics", {"location": command.location, **present({**retry, **window})}
    window = {"oldestTimestamp": timestamp(command.oldest), "latestTimestamp": timestamp(command.latest)}
    log = {"remoteLocation": command.location, **present(window)}
    return "GetLog", {"requestId": command.request_id, "logType": command.log_type, "log": log, **present(retry)}


# 1.6 calls the station maximum ChargePointMaxProfile; the other purposes are spelled as csms names them.
_STATION_MAX_16 = "ChargePointMaxProfile"


def _wire_purpose(purpose: str) -> str:
    return _STATION_MAX_16 if purpose == STATION_MAX_PROFILE else purpose


def _neutral_purpose(purpose: str | None) -> str | None:
    return STATION_MAX_PROFILE if purpose == _STATION_MAX_16 else purpose


def _profile(profile: ChargingProfileValue) -> Payload:
    """A 1.6 csChargingProfiles; a TxProfile names csms's transaction id (§5.16)."""
    schedule = {
        "duration": profile.duration,
        "startSchedule": timestamp(profile.start_schedule),
        "chargingRateUnit": profile.charging_rate_unit,
        "chargingSchedulePeriod": [present(schedule_period(period)) for period in profile.periods],
        "minChargingRate": profile.min_charging_rate,
    }
    return present(
        {
            "chargingProfileId": profile.profile_id,
            "transactionId": profile.transaction_id,
            "stackLevel": profile.stack_level,
            "chargingProfilePurpose": _wire_purpose(profile.purpose),
            "chargingProfileKind": profile.kind,
            "recurrencyKind": profile.recurrency,
            "validFrom": timestamp(profile.valid_from),
            "validTo": timestamp(profile.valid_to),
            "chargingSchedule": present(schedule),
        }
    )


def read_profile(wire: Payload) -> ChargingProfileValue:
    """A 1.6 csChargingProfiles (or a RemoteStartTransaction's chargingProfile) as csms keeps it."""
    schedule = wire["chargingSchedule"]
    return ChargingProfileValue(
        profile_id=int(wire["chargingProfileId"]),
        stack_level=int(wire["stackLevel"]),
        purpose=str(_neutral_purpose(wire["chargingProfilePurpose"])),
        kind=str(wire["chargingProfileKind"]),
        charging_rate_unit=str(schedule["chargingRateUnit"]),
        periods=tuple(read_schedule_period(period) for period in schedule["chargingSchedulePeriod"]),
        recurrency=wire.get("recurrencyKind"),
        valid_from=read_timestamp(wire.get("validFrom")),
        valid_to=read_timestamp(wire.get("validTo")),
        transaction_id=wire.get("transactionId"),
        duration=schedule.get("duration"),
        start_schedule=read_timestamp(schedule.get("startSchedule")),
        min_charging_rate=schedule.get("minChargingRate"),
    )


def _clear_charging_profile(command: ClearChargingProfile) -> Payload:
    return present(
        {
            "id": command.profile_id,
            "connectorId": command.connector_id,
            "chargingProfilePurpose": _wire_purpose(command.purpose) if command.purpose else None,
            "stackLevel": command.stack_level,
        }
    )


def _get_composite_schedule(command: GetCompositeSchedule) -> Payload:
    payload: Payload = {"connectorId": command.connector_id, "duration": command.duration}
    if command.charging_rate_unit is not None:
        payload["chargingRateUnit"] = command.charging_rate_unit
    return payload


def _composite_schedule(answer: Payload) -> Payload | None:
    """A 1.6 GetCompositeSchedule answer's schedule in csms's words; None when there is none."""
    schedule = answer.get("chargingSchedule")
    if answer["status"] != "Accepted" or schedule is None:
        return None
    return {
        "connector_id": answer.get("connectorId"),
        "schedule_start": answer.get("scheduleStart") or schedule.get("startSchedule"),
        "duration": schedule.get("duration"),
        "charging_rate_unit": schedule["chargingRateUnit"],
        "periods": [schedule_period_fields(period) for period in schedule["chargingSchedulePeriod"]],
    }
