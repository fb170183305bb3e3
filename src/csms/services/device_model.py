"""A 2.x station's device model, as its reports told it: the 2.x counterpart of the 1.6 configuration keys.

A station reports its components and variables in NotifyReport messages (the answer to GetBaseReport or
GetReport, often in several parts); each attribute (Actual, Target, MinSet, MaxSet) of a variable is one
row, replaced when a newer report names it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, DeviceModelVariable
from csms.services.chargers import OCPP_16
from csms.services.errors import InvalidInput, NotFound

# Where a 2.x station keeps its Basic-auth password (2.0.1 part 2, appendix: SecurityCtrlr); write-only,
# never kept here even if a station reports it.
SECURITY_CONTROLLER = "SecurityCtrlr"
BASIC_AUTH_PASSWORD = "BasicAuthPassword"  # noqa: S105 (a variable name, not a password)

_KEY = (
    "charge_point_id",
    "component_name",
    "component_instance",
    "evse_id",
    "evse_connector_id",
    "variable_name",
    "variable_instance",
    "attribute_type",
)
_REPORTED = ("value", "mutability", "persistent", "constant", "data_type", "characteristics", "updated_at")
# What a station's answer to GetVariables or SetVariables tells: the value, not how the variable is made.
_VALUE = ("value", "updated_at")


@dataclass(frozen=True, slots=True)
class ReportedAttribute:
    """One attribute of one variable of one component. Absent parts of the name are '' or 0."""

    component_name: str
    variable_name: str
    attribute_type: str = "Actual"
    component_instance: str = ""
    evse_id: int = 0
    evse_connector_id: int = 0
    variable_instance: str = ""
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    data_type: str | None = None
    characteristics: str | None = None  # JSON, as reported


def attribute_named(
    component: Mapping[str, Any], variable: Mapping[str, Any], *, attribute_type: str, value: str | None, **details: Any
) -> ReportedAttribute:
    """The attribute that a 2.x ComponentType and VariableType (as the wire spells them) name."""
    evse = component.get("evse") or {}
    return ReportedAttribute(
        component_name=component["name"],
        component_instance=component.get("instance", ""),
        evse_id=evse.get("id", 0),
        evse_connector_id=evse.get("connectorId", 0),
        variable_name=variable["name"],
        variable_instance=variable.get("instance", ""),
        attribute_type=attribute_type,
        value=value,
        **details,
    )


async def record_report(
    session: AsyncSession, charge_point_id: str, attributes: Sequence[ReportedAttribute], *, now: datetime
) -> None:
    """Attributes as a NotifyReport gave them: each replaces all that csms kept of it."""
    await _record(session, charge_point_id, attributes, now=now, columns=_REPORTED)


async def record_values(
    session: AsyncSession, charge_point_id: str, attributes: Sequence[ReportedAttribute], *, now: datetime
) -> None:
    """Values a station read out or took on (GetVariables, SetVariables): the mutability and characteristics
    its reports gave are kept."""
    await _record(session, charge_point_id, attributes, now=now, columns=_VALUE)


async def _record(
    session: AsyncSession,
    charge_point_id: str,
    attributes: Sequence[ReportedAttribute],
    *,
    now: datetime,
    columns: Sequence[str],
) -> None:
    # One row per attribute (the last one wins): a multi-row upsert may not touch a row twice.
    by_key = {}
    for attribute in attributes:
        if is_password(attribute.component_name, attribute.variable_name):
            continue
        row = {**asdict(attribute), "charge_point_id": charge_point_id, "updated_at": now}
        by_key[tuple(row[column] for column in _KEY)] = row
    rows = list(by_key.values())
    if not rows:
        return
    await session.execute(_upsert(session.get_bind().dialect.name, columns), rows)
    await session.commit()


def is_password(component_name: str, variable_name: str) -> bool:
    return (component_name, variable_name) == (SECURITY_CONTROLLER, BASIC_AUTH_PASSWORD)


def _upsert(dialect_name: str, columns: Sequence[str]) -> Executable:
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(DeviceModelVariable)
    return statement.on_conflict_do_update(
        index_elements=[DeviceModelVariable.__table__.c[column] for column in _KEY],
        set_={column: statement.excluded[column] for column in columns},
    )


@dataclass(frozen=True, slots=True)
class VariableFilter:
    """Which attributes to list; None matches any. `evse_id` 0 is the station's own components, and
    `evse_connector_id` 0 those of a whole EVSE."""

    component_name: str | None = None
    component_instance: str | None = None
    evse_id: int | None = None
    evse_connector_id: int | None = None
    variable_name: str | None = None
    variable_instance: str | None = None
    attribute_type: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return [
            DeviceModelVariable.__table__.c[name] == wanted
            for name, wanted in asdict(self).items()
            if wanted is not None
        ]


async def require_device_model(session: AsyncSession, charge_point_id: str) -> None:
    """NotFound for an unknown charger, InvalidInput for a 1.6 one: 1.6 has configuration keys instead."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if charger.ocpp_version == OCPP_16:
        raise InvalidInput(
            f"charger {charge_point_id} speaks OCPP 1.6, which has no device model: read its configuration keys"
            f" (GET /api/admin/chargers/{charge_point_id}/configuration) and change them with ChangeConfiguration"
        )


async def list_variables(
    session: AsyncSession,
    charge_point_id: str,
    *,
    only: VariableFilter | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[DeviceModelVariable]:
    """The attributes kept of the station, by component, its place, variable and attribute type."""
    query = (
        select(DeviceModelVariable)
        .where(DeviceModelVariable.charge_point_id == charge_point_id, *(only or VariableFilter()).conditions())
        .limit(limit)
        .offset(offset)
        .order_by(
            DeviceModelVariable.component_name,
            DeviceModelVariable.component_instance,
            DeviceModelVariable.evse_id,
            DeviceModelVariable.evse_connector_id,
            DeviceModelVariable.variable_name,
            DeviceModelVariable.variable_instance,
            DeviceModelVariable.attribute_type,
        )
    )
    return list((await session.scalars(query)).all())


async def count_variables(session: AsyncSession, charge_point_id: str, *, only: VariableFilter | None = None) -> int:
    query = select(func.count()).where(
        DeviceModelVariable.charge_point_id == charge_point_id, *(only or VariableFilter()).conditions()
    )
    return int((await session.execute(query)).scalar_one())
