"""What csms keeps from the calls an operator sends chargers through the generic endpoint.

An operator may send any call of the charger's version; when the charger accepts one that changes state
csms tracks (1.6: configuration, charging profiles; 2.0.1: device model variables, network profile, monitors and
monitoring base and level;
both: Basic-auth password, installed certificates, local list, reservations), the change is recorded
csms tracks (1.6: configuration; 2.0.1: device model variables, network profile; both: Basic-auth
password, installed certificates, local list, reservations, charging profiles), the change is recorded
here, so the dedicated flows and the generic endpoint agree. The payloads are the wire's: each version
has its own table of recorders, since the same action name can carry different fields in each; a call
the charger's version package reads as a neutral command (local lists, reservations, charging profiles,
1.6's RemoteStartTransaction with a profile) is recorded from that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.commands import (
    EXTERNAL_CONSTRAINTS_PROFILE,
    EXTERNAL_CONSTRAINTS_REFUSAL,
    CancelReservation,
    ChargerCommand,
    ClearChargingProfile,
    GetLocalListVersion,
    ReserveNow,
    SendLocalList,
    SetChargingProfile,
)
from csms.services import (
    certificate_authority,
    certificates,
    charging_profiles,
    configuration,
    device_model,
    local_list,
    monitoring,
    reservations,
    security_profiles,
)
from csms.services.chargers import OCPP_16, validate_charger_password
from csms.services.errors import InvalidInput

Recorder = Callable[[AsyncSession, str, dict[str, Any], dict[str, Any], datetime], Awaitable[None]]


def check_request(action: str, payload: dict[str, Any]) -> None:
    """Refuse, before it leaves, a call whose effect csms could not record (InvalidInput)."""
    if action == "ChangeConfiguration" and payload.get("key") == configuration.AUTHORIZATION_KEY:
        configuration.password_from_authorization_key(str(payload.get("value", "")))
    if action == "InstallCertificate":
        certificate_authority.read_certificate(str(payload.get("certificate", "")))
    if action == "SetVariables":
        for password in _passwords_set(payload):
            validate_charger_password(password)
    if action == "SetChargingProfile" and _profile_purpose(payload) == EXTERNAL_CONSTRAINTS_PROFILE:
        raise InvalidInput(EXTERNAL_CONSTRAINTS_REFUSAL)


async def record_answer(
    session: AsyncSession,
    *,
    version: str,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any],
    answer: dict[str, Any],
    now: datetime,
) -> None:
    recorders = _RECORDERS_16 if version == OCPP_16 else _RECORDERS_201
    recorder = recorders.get(action)
    if recorder is not None:
        await recorder(session, charge_point_id, payload, answer, now)


async def record_command(
    session: AsyncSession, *, charge_point_id: str, command: ChargerCommand, answer: dict[str, Any], now: datetime
) -> None:
    """`record_answer` for a call its charger's version package read as a command (any version);
    `answer` as that package read it."""
    if isinstance(command, SendLocalList | GetLocalListVersion):
        await local_list.record_answer(session, charge_point_id, command, answer, now=now)
    elif isinstance(command, ReserveNow):
        await reservations.record_reserve_now(session, charge_point_id, command, status=str(answer["status"]), now=now)
    elif isinstance(command, CancelReservation) and answer.get("status") == "Accepted":
        await reservations.record_cancelled(session, charge_point_id, command.reservation_id, now=now)
    elif isinstance(command, SetChargingProfile) and answer.get("status") == "Accepted":
        await charging_profiles.record_set(session, charge_point_id, command.connector_id, command.profile, now=now)
    elif isinstance(command, ClearChargingProfile) and answer.get("status") == "Accepted":
        await charging_profiles.record_clear(session, charge_point_id, command)


async def _get_configuration(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    await configuration.record_configuration(session, charge_point_id, answer.get("configurationKey", []), now=now)


async def _change_configuration(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    if answer.get("status") in configuration.APPLIED_STATUSES:
        await configuration.record_change(session, charge_point_id, key=payload["key"], value=payload["value"], now=now)
        if security_profiles.is_profile_change("ChangeConfiguration", payload):
            await security_profiles.allow(session, charge_point_id, int(payload["value"]))


async def _install_certificate(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    if answer.get("status") == "Accepted":
        await certificates.record_installed(
            session, charge_point_id, payload["certificateType"], payload["certificate"], now=now
        )


async def _delete_certificate(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    if answer.get("status") == "Accepted":
        await certificates.record_deleted(session, charge_point_id, payload["certificateHashData"])


async def _get_installed_certificate_ids(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    reported = answer.get("certificateHashData", []) if answer.get("status") == "Accepted" else []
    await certificates.record_reported(session, charge_point_id, payload["certificateType"], reported, now=now)


async def _set_variables(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    """Each variable the station took on: a new BasicAuthPassword is the station's password, any other
    value is its device model's (SetVariables results come in the order of the request's data)."""
    applied = []
    for asked, result in zip(payload["setVariableData"], answer["setVariableResult"], strict=False):
        if result["attributeStatus"] not in configuration.APPLIED_STATUSES:
            continue
        if device_model.is_password(asked["component"]["name"], asked["variable"]["name"]):
            await configuration.record_password(session, charge_point_id, str(asked["attributeValue"]))
        else:
            applied.append(_attribute(asked, value=str(asked["attributeValue"])))
    await device_model.record_values(session, charge_point_id, applied, now=now)


async def _get_variables(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    reported = [
        _attribute(result, value=result.get("attributeValue"))
        for result in answer["getVariableResult"]
        if result["attributeStatus"] == "Accepted"
    ]
    await device_model.record_values(session, charge_point_id, reported, now=now)


async def _set_network_profile(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    """The operator moved the station to a profile: its next connection at that profile raises the recorded one."""
    if answer.get("status") == "Accepted":
        await security_profiles.allow(session, charge_point_id, int(payload["connectionData"]["securityProfile"]))


async def _get_installed_certificate_ids_201(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    """2.0.1 answers for several types at once (all of them when the request names none): each type asked
    for is replaced by what the station listed of it."""
    chains = answer.get("certificateHashDataChain", []) if answer.get("status") == "Accepted" else []
    reported: dict[str, list[dict[str, Any]]] = {kind: [] for kind in payload.get("certificateType", [])}
    for chain in chains:
        reported.setdefault(chain["certificateType"], []).append(chain["certificateHashData"])
    for certificate_type, hash_data in reported.items():
        await certificates.record_reported(session, charge_point_id, certificate_type, hash_data, now=now)


async def _set_variable_monitoring(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    """Each monitor the station accepted, under the id it answered (its own for a new monitor, N04), with
    the value and transaction flag asked for (results come in the order of the request's data)."""
    accepted = [
        monitoring.Monitor(
            monitor_id=int(result["id"]),
            variable=_component_variable(result["component"], result["variable"]),
            monitor_type=str(result["type"]),
            value=monitoring.value_text(asked["value"]),
            severity=int(result["severity"]),
            transaction=bool(asked.get("transaction", False)),
        )
        for asked, result in zip(payload["setMonitoringData"], answer["setMonitoringResult"], strict=False)
        if result["status"] == "Accepted" and result.get("id") is not None
    ]
    await monitoring.record_monitors(session, charge_point_id, accepted, source=monitoring.SET, now=now)


async def _clear_variable_monitoring(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    """Monitors the station cleared, or no longer had (NotFound): gone either way."""
    results = answer["clearMonitoringResult"]
    gone = [int(result["id"]) for result in results if result["status"] in ("Accepted", "NotFound")]
    await monitoring.record_cleared(session, charge_point_id, gone)


async def _set_monitoring_base(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    if answer.get("status") == "Accepted":
        base = str(payload["monitoringBase"])
        if base != "All":
            await monitoring.forget_custom_monitors(session, charge_point_id)
        await monitoring.record_settings(session, charge_point_id, base=base, now=now)


async def _set_monitoring_level(
    session: AsyncSession, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any], now: datetime
) -> None:
    if answer.get("status") == "Accepted":
        await monitoring.record_settings(session, charge_point_id, level=int(payload["severity"]), now=now)


def _component_variable(component: dict[str, Any], variable: dict[str, Any]) -> monitoring.ComponentVariable:
    evse = component.get("evse") or {}
    return monitoring.ComponentVariable(
        component_name=component["name"],
        component_instance=component.get("instance", ""),
        evse_id=evse.get("id", 0),
        evse_connector_id=evse.get("connectorId", 0),
        variable_name=variable["name"],
        variable_instance=variable.get("instance", ""),
    )


def _profile_purpose(payload: dict[str, Any]) -> Any:
    """The purpose of a SetChargingProfile's profile (2.x: chargingProfile, 1.6: csChargingProfiles)."""
    profile = payload.get("chargingProfile") or payload.get("csChargingProfiles") or {}
    return profile.get("chargingProfilePurpose") if isinstance(profile, dict) else None


def _passwords_set(payload: dict[str, Any]) -> list[str]:
    return [
        str(data.get("attributeValue", ""))
        for data in payload.get("setVariableData", [])
        if device_model.is_password(data.get("component", {}).get("name", ""), data.get("variable", {}).get("name", ""))
    ]


def _attribute(named: dict[str, Any], *, value: str | None) -> device_model.ReportedAttribute:
    """The device model attribute a SetVariables datum or GetVariables result names."""
    return device_model.attribute_named(
        named["component"], named["variable"], attribute_type=named.get("attributeType", "Actual"), value=value
    )


_RECORDERS_16: dict[str, Recorder] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "InstallCertificate": _install_certificate,
    "DeleteCertificate": _delete_certificate,
    "GetInstalledCertificateIds": _get_installed_certificate_ids,
}
_RECORDERS_201: dict[str, Recorder] = {
    "SetVariables": _set_variables,
    "GetVariables": _get_variables,
    "SetNetworkProfile": _set_network_profile,
    "InstallCertificate": _install_certificate,
    "DeleteCertificate": _delete_certificate,
    "GetInstalledCertificateIds": _get_installed_certificate_ids_201,
    "SetVariableMonitoring": _set_variable_monitoring,
    "ClearVariableMonitoring": _clear_variable_monitoring,
    "SetMonitoringBase": _set_monitoring_base,
    "SetMonitoringLevel": _set_monitoring_level,
}
