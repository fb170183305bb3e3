"""csms's commands as OCPP 2.0.1 calls, and the station's answers read back."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import (
    CENTRAL_ID_TYPE,
    TX_PROFILE,
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
from csms.ocpp.v201 import device_model
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.device_model import BASIC_AUTH_PASSWORD, SECURITY_CONTROLLER

# A group is csms's own grouping of tokens, no physical token: its groupIdToken is of type Central,
# as in csms's Authorize and TransactionEvent answers (v201/station.py).
_GROUP_ID_TYPE = CENTRAL_ID_TYPE
DIAGNOSTICS_LOG = "DiagnosticsLog"


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 2.0.1 action and payload that carry out `command`; RpcError when 2.0.1 cannot say it."""
    if isinstance(command, RemoteStart):
        return "RequestStartTransaction", _request_start(command)
    if isinstance(command, RemoteStop):
        return "RequestStopTransaction", _request_stop(command)
    if isinstance(command, SendLocalList):
        return "SendLocalList", _send_local_list(command)
    if isinstance(command, GetLocalListVersion):
        return "GetLocalListVersion", {}
    if isinstance(command, ReserveNow):
        return "ReserveNow", _reserve_now(command)
    if isinstance(command, CancelReservation):
        return "CancelReservation", {"reservationId": command.reservation_id}
    if isinstance(command, UpdateFirmware):
        return "UpdateFirmware", _update_firmware(command)
    if isinstance(command, UploadLog):
        return "GetLog", _get_log(command)
    if isinstance(command, TriggerMessage):
        return "TriggerMessage", {"requestedMessage": command.requested_message}
    if isinstance(command, PublishFirmware):
        return "PublishFirmware", _publish_firmware(command)
    if isinstance(command, UnpublishFirmware):
        return "UnpublishFirmware", {"checksum": command.checksum}
    if isinstance(command, RequestCustomerInformation):
        return "CustomerInformation", _customer_information(command)
    if isinstance(command, ShowDisplayMessage):
        return "SetDisplayMessage", {"message": _message_info(command)}
    if isinstance(command, ClearDisplayMessage):
        return "ClearDisplayMessage", {"id": command.message_id}
    if isinstance(command, SetMonitor):
        return "SetVariableMonitoring", {"setMonitoringData": [_monitoring_data(command)]}
    if isinstance(command, ClearMonitor):
        return "ClearVariableMonitoring", {"id": [command.monitor_id]}
    if isinstance(command, SetChargingProfile):
        profile = profile_payload(command.profile)
        return "SetChargingProfile", {"evseId": command.connector_id, "chargingProfile": profile}
    if isinstance(command, ClearChargingProfile):
        return "ClearChargingProfile", _clear_charging_profile(command)
    if isinstance(command, GetCompositeSchedule):
        return "GetCompositeSchedule", _get_composite_schedule(command)
    if isinstance(command, SetDefaultTariff):
        raise RpcError.because(ErrorKind.NOT_SUPPORTED, "OCPP 2.0.1 keeps no tariffs on the station (2.1 does)")
    if isinstance(command, SetVariables):
        return "SetVariables", device_model.set_variables(command)
    if isinstance(command, GetVariables):
        return "GetVariables", device_model.get_variables(command)
    if isinstance(command, RequestBaseReport):
        return "GetBaseReport", device_model.get_base_report(command)
    return "SetVariables", _set_password(command)


def read_answer(command: ChargerCommand, answer: Payload) -> Payload:
    """What csms tells the caller of the station's answer (already checked against its schema)."""
    if isinstance(command, ChangePassword):
        # One variable set: its attributeStatus (Accepted, Rejected, RebootRequired, ...) is the answer.
        return {"status": answer["setVariableResult"][0]["attributeStatus"]}
    if isinstance(command, SetVariables):
        return device_model.read_set_variables(answer)
    if isinstance(command, GetVariables):
        return device_model.read_get_variables(answer)
    if isinstance(command, GetLocalListVersion):
        return {"versionNumber": answer["versionNumber"]}
    if isinstance(command, UploadLog):
        return {"status": answer["status"], "file_name": answer.get("filename")}
    if isinstance(command, SetMonitor):
        result = answer["setMonitoringResult"][0]  # one monitor asked, one result
        return {"status": result["status"], "monitor_id": result.get("id")}
    if isinstance(command, ClearMonitor):
        return {"status": answer["clearMonitoringResult"][0]["status"]}
    if isinstance(command, GetCompositeSchedule):
        return {"status": answer["status"], "schedule": _composite_schedule(answer)}
    return {"status": answer["status"]}


def read_call(action: str, payload: Payload) -> ChargerCommand | None:
    """The command an operator's own 2.0.1 call is, when csms keeps what it changes; None otherwise."""
    if action == "GetLocalListVersion":
        return GetLocalListVersion()
    if action == "ReserveNow":
        token, group = payload["idToken"], payload.get("groupIdToken")
        return ReserveNow(
            reservation_id=int(payload["id"]),
            connector_id=int(payload.get("evseId", 0)),
            id_token=str(token["idToken"]),
            expires_at=parse_ocpp_timestamp(str(payload["expiryDateTime"])),
            group_id_token=group["idToken"] if group is not None else None,
            id_token_type=str(token["type"]),
            connector_type=payload.get("connectorType"),
        )
    if action == "CancelReservation":
        return CancelReservation(int(payload["reservationId"]))
    if action == "SetChargingProfile":
        return SetChargingProfile(int(payload["evseId"]), read_profile(payload["chargingProfile"]))
    if action == "ClearChargingProfile":
        return _read_clear_charging_profile(payload)
    if action != "SendLocalList":
        return None
    entries = tuple(_listed_token(item) for item in payload.get("localAuthorizationList", []))
    return SendLocalList(int(payload["versionNumber"]), str(payload["updateType"]), entries)


def _reserve_now(command: ReserveNow) -> Payload:
    """2.0.1 ReserveNow: `id` is the reservation; without an evseId the station picks an EVSE (H01)."""
    payload: Payload = {
        "id": command.reservation_id,
        "expiryDateTime": format_ocpp_timestamp(command.expires_at),
        "idToken": {"idToken": command.id_token, "type": command.id_token_type},
    }
    if command.connector_id > 0:
        payload["evseId"] = command.connector_id
    if command.connector_type is not None:
        payload["connectorType"] = command.connector_type
    if command.group_id_token:
        payload["groupIdToken"] = {"idToken": command.group_id_token, "type": _GROUP_ID_TYPE}
    return payload


def _publish_firmware(command: PublishFirmware) -> Payload:
    payload: Payload = {"location": command.location, "checksum": command.checksum, "requestId": command.request_id}
    if command.retries is not None:
        payload["retries"] = command.retries
    if command.retry_interval is not None:
        payload["retryInterval"] = command.retry_interval
    return payload


def _send_local_list(command: SendLocalList) -> Payload:
    payload: Payload = {"versionNumber": command.version_number, "updateType": command.update_type}
    if command.entries:  # the schema wants at least one entry when the list is there
        payload["localAuthorizationList"] = [_authorization_data(entry) for entry in command.entries]
    return payload


def _authorization_data(entry: ListedToken) -> Payload:
    """A 2.0.1 AuthorizationData; a removal is an idToken without idTokenInfo, as in 1.6."""
    data: Payload = {"idToken": {"idToken": entry.id_token, "type": entry.id_token_type}}
    if entry.status is None:
        return data
    info: dict[str, Any] = {"status": entry.status}
    if entry.expiry is not None:
        info["cacheExpiryDateTime"] = format_ocpp_timestamp(entry.expiry)
    if entry.group_id_token is not None:
        info["groupIdToken"] = {"idToken": entry.group_id_token, "type": _GROUP_ID_TYPE}
    data["idTokenInfo"] = info
    return data


def _listed_token(item: Payload) -> ListedToken:
    token = item["idToken"]
    info = item.get("idTokenInfo")
    if info is None:
        return ListedToken(token["idToken"], id_token_type=token["type"])
    expiry = info.get("cacheExpiryDateTime")
    group = info.get("groupIdToken")
    return ListedToken(
        token["idToken"],
        info["status"],
        parse_ocpp_timestamp(expiry) if expiry else None,
        group["idToken"] if group is not None else None,
        token["type"],
    )


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


def _update_firmware(command: UpdateFirmware) -> Payload:
    """2.0.1 UpdateFirmware (L01/L02): one call for signed and unsigned images, the rollout as requestId."""
    image: Payload = {"location": command.location, "retrieveDateTime": format_ocpp_timestamp(command.retrieve_at)}
    if command.is_signed:
        image |= {"signingCertificate": command.signing_certificate, "signature": command.signature}
    retry = {"retries": command.retries, "retryInterval": command.retry_interval}
    return {"requestId": command.request_id, "firmware": image, **present(retry)}


def _get_log(command: UploadLog) -> Payload:
    """2.0.1 GetLog (N01): the station's diagnostics are its DiagnosticsLog."""
    window = {
        "oldestTimestamp": format_ocpp_timestamp(command.oldest) if command.oldest else None,
        "latestTimestamp": format_ocpp_timestamp(command.latest) if command.latest else None,
    }
    retry = {"retries": command.retries, "retryInterval": command.retry_interval}
    return {
        "requestId": command.request_id,
        "logType": command.log_type or DIAGNOSTICS_LOG,
        "log": {"remoteLocation": command.location, **present(window)},
        **present(retry),
    }


def _customer_information(command: RequestCustomerInformation) -> Payload:
    """2.0.1 CustomerInformation (N09/N10): the customer by token, identifier or certificate hash data."""
    payload: Payload = {"requestId": command.request_id, "report": command.report, "clear": command.clear}
    if command.id_token is not None:
        payload["idToken"] = {"idToken": command.id_token, "type": command.id_token_type or CENTRAL_ID_TYPE}
    if command.customer_identifier is not None:
        payload["customerIdentifier"] = command.customer_identifier
    certificate = {
        "hashAlgorithm": command.hash_algorithm,
        "issuerNameHash": command.issuer_name_hash,
        "issuerKeyHash": command.issuer_key_hash,
        "serialNumber": command.serial_number,
    }
    if any(value is not None for value in certificate.values()):
        payload["customerCertificate"] = present(certificate)
    return payload


def _message_info(command: ShowDisplayMessage) -> Payload:
    """A 2.0.1 MessageInfoType (O01-O06): the message csms numbered, when and where it shows."""
    content = present({"format": command.format, "language": command.language, "content": command.content})
    window = {
        "startDateTime": format_ocpp_timestamp(command.start_at) if command.start_at else None,
        "endDateTime": format_ocpp_timestamp(command.end_at) if command.end_at else None,
    }
    optional = present({"state": command.state, "transactionId": command.transaction_id, **window})
    return {"id": command.message_id, "priority": command.priority, "message": content, **optional}


def _monitoring_data(command: SetMonitor) -> Payload:
    """A 2.0.1 SetMonitoringDataType (N04): without an id the station numbers a new monitor."""
    component = present({"name": command.component_name, "instance": command.component_instance})
    if command.evse_id is not None:
        component["evse"] = present({"id": command.evse_id, "connectorId": command.evse_connector_id})
    variable = present({"name": command.variable_name, "instance": command.variable_instance})
    data: Payload = {
        "value": command.value,
        "type": command.monitor_type,
        "severity": command.severity,
        "transaction": command.transaction,
        "component": component,
        "variable": variable,
    }
    if command.monitor_id is not None:
        data["id"] = command.monitor_id
    return data


def profile_payload(profile: ChargingProfileValue) -> Payload:
    """A 2.0.1 ChargingProfileType: its one schedule has the profile's id; a TxProfile names the station's
    own transactionId (K01.FR.03)."""
    if profile.purpose == TX_PROFILE and profile.transaction_key is None:
        raise RpcError.because(ErrorKind.PROPERTY_CONSTRAINT, "a 2.0.1 TxProfile names the station's transactionId")
    schedule = {
        "id": profile.profile_id,
        "startSchedule": timestamp(profile.start_schedule),
        "duration": profile.duration,
        "chargingRateUnit": profile.charging_rate_unit,
        "chargingSchedulePeriod": [present(schedule_period(period)) for period in profile.periods],
        "minChargingRate": profile.min_charging_rate,
    }
    return present(
        {
            "id": profile.profile_id,
            "stackLevel": profile.stack_level,
            "chargingProfilePurpose": profile.purpose,
            "chargingProfileKind": profile.kind,
            "recurrencyKind": profile.recurrency,
            "validFrom": timestamp(profile.valid_from),
            "validTo": timestamp(profile.valid_to),
            "chargingSchedule": [present(schedule)],
            "transactionId": profile.transaction_key,
        }
    )


def read_profile(wire: Payload) -> ChargingProfileValue:
    """A 2.0.1 ChargingProfileType as csms keeps it: its first schedule (a station takes up to three only
    for ISO 15118 schedule selection, K15)."""
    schedule = wire["chargingSchedule"][0]
    return ChargingProfileValue(
        profile_id=int(wire["id"]),
        stack_level=int(wire["stackLevel"]),
        purpose=str(wire["chargingProfilePurpose"]),
        kind=str(wire["chargingProfileKind"]),
        charging_rate_unit=str(schedule["chargingRateUnit"]),
        periods=tuple(read_schedule_period(period) for period in schedule["chargingSchedulePeriod"]),
        recurrency=wire.get("recurrencyKind"),
        valid_from=read_timestamp(wire.get("validFrom")),
        valid_to=read_timestamp(wire.get("validTo")),
        transaction_key=wire.get("transactionId"),
        duration=schedule.get("duration"),
        start_schedule=read_timestamp(schedule.get("startSchedule")),
        min_charging_rate=schedule.get("minChargingRate"),
    )


def _clear_charging_profile(command: ClearChargingProfile) -> Payload:
    """2.0.1 ClearChargingProfile (K10): the id, or criteria on the EVSE, purpose and stack level."""
    criteria = present(
        {"evseId": command.connector_id, "chargingProfilePurpose": command.purpose, "stackLevel": command.stack_level}
    )
    payload: Payload = {}
    if command.profile_id is not None:
        payload["chargingProfileId"] = command.profile_id
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    return payload


def _read_clear_charging_profile(payload: Payload) -> ClearChargingProfile:
    criteria = payload.get("chargingProfileCriteria") or {}
    return ClearChargingProfile(
        profile_id=payload.get("chargingProfileId"),
        connector_id=criteria.get("evseId"),
        purpose=criteria.get("chargingProfilePurpose"),
        stack_level=criteria.get("stackLevel"),
    )


def _get_composite_schedule(command: GetCompositeSchedule) -> Payload:
    payload: Payload = {"evseId": command.connector_id, "duration": command.duration}
    if command.charging_rate_unit is not None:
        payload["chargingRateUnit"] = command.charging_rate_unit
    return payload


def _composite_schedule(answer: Payload) -> Payload | None:
    """A 2.0.1 CompositeScheduleType in csms's words; None when the station gave none."""
    schedule = answer.get("schedule")
    if answer["status"] != "Accepted" or schedule is None:
        return None
    return {
        "connector_id": schedule["evseId"],
        "schedule_start": schedule["scheduleStart"],
        "duration": schedule["duration"],
        "charging_rate_unit": schedule["chargingRateUnit"],
        "periods": [schedule_period_fields(period) for period in schedule["chargingSchedulePeriod"]],
    }
