"""An operator's reads and edits of a 2.x station's device model.

An edit is checked against what the station's reports said of the variable (its attribute's mutability,
the variable's data type, limits and allowed values: 2.0.1 VariableCharacteristicsType) before one
SetVariables carries all of them; a variable csms has no report of goes unchecked, and the station's own
answer (UnknownVariable, ...) tells. What the station took on, or read out, is kept at once.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import DeviceModelVariable
from csms.domain.commands import GetVariables, SetVariables, VariableRef, VariableSetting
from csms.services import configuration, device_model
from csms.services.chargers import validate_charger_password
from csms.services.clock import parse_ocpp_timestamp
from csms.services.errors import Conflict, InvalidInput

READ_ONLY = "ReadOnly"
WRITE_ONLY = "WriteOnly"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_LISTS = ("OptionList", "SequenceList", "MemberList")


@dataclass(frozen=True, slots=True)
class VariableResult:
    """The station's answer for one variable; `value` only for a read (never a password's)."""

    variable: VariableRef
    status: str
    reason_code: str | None = None
    additional_info: str | None = None
    value: str | None = None


def new_request_id() -> int:
    """A requestId for a report: positive, fits the 32-bit integers of OCPP."""
    return 1 + secrets.randbelow(2**31 - 1)


async def plan_settings(
    session: AsyncSession, charge_point_id: str, settings: Sequence[VariableSetting]
) -> SetVariables:
    """The SetVariables that carries `settings`, each checked (Conflict for a ReadOnly attribute,
    InvalidInput naming the field for a value the variable cannot take)."""
    await device_model.require_device_model(session, charge_point_id)
    _refuse_repeats("variables", [setting.variable for setting in settings])
    for index, setting in enumerate(settings):
        known = await _known_attributes(session, charge_point_id, setting.variable)
        _check_setting(f"variables[{index}]", setting, known)
    return SetVariables(tuple(settings))


async def plan_reads(session: AsyncSession, charge_point_id: str, variables: Sequence[VariableRef]) -> GetVariables:
    await device_model.require_device_model(session, charge_point_id)
    _refuse_repeats("variables", variables)
    return GetVariables(tuple(variables))


async def record_set_answer(
    session: AsyncSession, charge_point_id: str, command: SetVariables, answer: dict[str, Any], *, now: datetime
) -> list[VariableResult]:
    """The station's result for each setting, in the order asked; what it took on is kept (a new
    BasicAuthPassword as the station's password, a WriteOnly value not at all)."""
    results = _matched([setting.variable for setting in command.settings], answer)
    taken = []
    for setting, result in zip(command.settings, results, strict=True):
        if result.status not in configuration.APPLIED_STATUSES:
            continue
        name = setting.variable
        if device_model.is_password(name.component_name, name.variable_name):
            await configuration.record_password(session, charge_point_id, setting.value)
        elif not await _is_write_only(session, charge_point_id, name):
            taken.append(_attribute(name, value=setting.value))
    await device_model.record_values(session, charge_point_id, taken, now=now)
    return results


async def record_read_answer(
    session: AsyncSession, charge_point_id: str, command: GetVariables, answer: dict[str, Any], *, now: datetime
) -> list[VariableResult]:
    results = _matched(list(command.variables), answer)
    read = [_attribute(result.variable, value=result.value) for result in results if result.status == "Accepted"]
    await device_model.record_values(session, charge_point_id, read, now=now)
    return [
        VariableResult(result.variable, result.status, result.reason_code, result.additional_info, None)
        if _is_password(result.variable)
        else result
        for result in results
    ]


def check_value(field: str, value: str, characteristics: dict[str, Any], *, name: str) -> None:
    """InvalidInput naming `field` when `value` is not of the variable's dataType, outside its
    minLimit/maxLimit (for a string or list: longer than maxLimit) or not in its valuesList."""
    data_type = characteristics.get("dataType", "string")
    low, high = characteristics.get("minLimit"), characteristics.get("maxLimit")
    if data_type in ("integer", "decimal"):
        number = _number(field, value, data_type, name=name)
        if low is not None and number < low:
            raise InvalidInput(f"{field}: {value} is below the minLimit {_limit(low)} of {name}")
        if high is not None and number > high:
            raise InvalidInput(f"{field}: {value} is above the maxLimit {_limit(high)} of {name}")
    elif data_type == "boolean" and value not in ("true", "false"):
        raise InvalidInput(f"{field}: {name} is a boolean: 'true' or 'false', not {value!r}")
    elif data_type == "dateTime":
        _date_time(field, value, name=name)
    elif high is not None and len(value) > high:
        raise InvalidInput(f"{field}: {name} takes at most {_limit(high)} characters, not {len(value)}")
    if data_type in _LISTS:
        _check_listed(field, value, data_type, characteristics.get("valuesList"), name=name)


def describe(variable: VariableRef) -> str:
    """'OCPPCommCtrlr.HeartbeatInterval', 'Connector[2](EVSE 1, connector 1).Enabled (Target)'."""
    component = variable.component_name + (f"[{variable.component_instance}]" if variable.component_instance else "")
    if variable.evse_id is not None:
        place = f"EVSE {variable.evse_id}"
        if variable.evse_connector_id is not None:
            place += f", connector {variable.evse_connector_id}"
        component += f"({place})"
    name = variable.variable_name + (f"[{variable.variable_instance}]" if variable.variable_instance else "")
    kind = "" if variable.attribute_type == "Actual" else f" ({variable.attribute_type})"
    return f"{component}.{name}{kind}"


def _check_setting(field: str, setting: VariableSetting, known: Sequence[DeviceModelVariable]) -> None:
    name = describe(setting.variable)
    mine = next((row for row in known if row.attribute_type == setting.variable.attribute_type), None)
    if mine is not None and mine.mutability == READ_ONLY:
        raise Conflict(f"{field}: {name} is ReadOnly on the station: it cannot be set")
    if _is_password(setting.variable):
        validate_charger_password(setting.value)
        return
    characteristics = next((json.loads(row.characteristics) for row in known if row.characteristics), None)
    if characteristics is not None:
        check_value(f"{field}.value", setting.value, characteristics, name=name)


def _number(field: str, value: str, data_type: str, *, name: str) -> float:
    pattern = _INTEGER if data_type == "integer" else _DECIMAL
    number = float(value) if pattern.fullmatch(value) else math.nan
    if not math.isfinite(number):
        article = "an" if data_type == "integer" else "a"
        raise InvalidInput(f"{field}: {name} is {article} {data_type}, not {value!r}")
    return number


def _date_time(field: str, value: str, *, name: str) -> None:
    try:
        parse_ocpp_timestamp(value)
    except ValueError:
        raise InvalidInput(f"{field}: {name} is a dateTime (RFC 3339), not {value!r}") from None


def _check_listed(field: str, value: str, data_type: str, values_list: str | None, *, name: str) -> None:
    if values_list is None:
        return
    allowed = [item.strip() for item in values_list.split(",")]
    chosen = [value] if data_type == "OptionList" else [item.strip() for item in value.split(",") if item.strip()]
    wrong = [item for item in chosen if item not in allowed]
    if wrong or (data_type == "OptionList" and not chosen):
        one = "one of" if data_type == "OptionList" else "members of"
        raise InvalidInput(f"{field}: {name} takes {one} {', '.join(allowed)}; {wrong[0] if wrong else value!r} is not")
    if len(set(chosen)) != len(chosen):
        raise InvalidInput(f"{field}: {name} lists a value twice")


def _limit(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


def _refuse_repeats(field: str, variables: Sequence[VariableRef]) -> None:
    seen: set[VariableRef] = set()
    for index, variable in enumerate(variables):
        if _normal(variable) in seen:
            raise InvalidInput(f"{field}[{index}]: {describe(variable)} is named twice in one request")
        seen.add(_normal(variable))


def _normal(variable: VariableRef) -> VariableRef:
    """The name as the table keeps it and stations answer it: no instance is '', no EVSE 0."""
    return VariableRef(
        component_name=variable.component_name,
        variable_name=variable.variable_name,
        attribute_type=variable.attribute_type,
        component_instance=variable.component_instance or "",
        evse_id=variable.evse_id or 0,
        evse_connector_id=variable.evse_connector_id or 0,
        variable_instance=variable.variable_instance or "",
    )


def _matched(asked: Sequence[VariableRef], answer: dict[str, Any]) -> list[VariableResult]:
    """The answer's results in the order asked: by name, or by position when a station renamed one."""
    answered = [_result(fields) for fields in answer["results"]]
    by_name = {_normal(result.variable): result for result in answered}
    found = []
    for index, variable in enumerate(asked):
        result = by_name.get(_normal(variable))
        if result is None:
            result = answered[index] if index < len(answered) else VariableResult(variable, "NoAnswer")
        found.append(VariableResult(variable, result.status, result.reason_code, result.additional_info, result.value))
    return found


def _result(fields: dict[str, Any]) -> VariableResult:
    variable = VariableRef(
        component_name=str(fields["component_name"]),
        variable_name=str(fields["variable_name"]),
        attribute_type=str(fields.get("attribute_type") or "Actual"),
        component_instance=fields.get("component_instance"),
        evse_id=fields.get("evse_id"),
        evse_connector_id=fields.get("evse_connector_id"),
        variable_instance=fields.get("variable_instance"),
    )
    return VariableResult(
        variable, str(fields["status"]), fields.get("reason_code"), fields.get("additional_info"), fields.get("value")
    )


async def _known_attributes(
    session: AsyncSession, charge_point_id: str, variable: VariableRef
) -> list[DeviceModelVariable]:
    """Every attribute kept of the variable (its characteristics are the variable's, on any of them)."""
    normal = _normal(variable)
    only = device_model.VariableFilter(
        component_name=normal.component_name,
        component_instance=normal.component_instance,
        evse_id=normal.evse_id,
        evse_connector_id=normal.evse_connector_id,
        variable_name=normal.variable_name,
        variable_instance=normal.variable_instance,
    )
    query = select(DeviceModelVariable).where(
        DeviceModelVariable.charge_point_id == charge_point_id, *only.conditions()
    )
    return list((await session.scalars(query)).all())


async def _is_write_only(session: AsyncSession, charge_point_id: str, variable: VariableRef) -> bool:
    known = await _known_attributes(session, charge_point_id, variable)
    return any(row.attribute_type == variable.attribute_type and row.mutability == WRITE_ONLY for row in known)


def _is_password(variable: VariableRef) -> bool:
    return device_model.is_password(variable.component_name, variable.variable_name)


def _attribute(variable: VariableRef, *, value: str | None) -> device_model.ReportedAttribute:
    normal = _normal(variable)
    return device_model.ReportedAttribute(
        component_name=normal.component_name,
        variable_name=normal.variable_name,
        attribute_type=normal.attribute_type,
        component_instance=normal.component_instance or "",
        evse_id=normal.evse_id or 0,
        evse_connector_id=normal.evse_connector_id or 0,
        variable_instance=normal.variable_instance or "",
        value=value,
    )
