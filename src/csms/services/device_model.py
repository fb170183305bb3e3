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

from sqlalchemy import Executable, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import DeviceModelVariable

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
_REPORTED = ("value", "mutability", "data_type", "characteristics", "updated_at")


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
    await session.execute(_upsert(session.get_bind().dialect.name), rows)
    await session.commit()


def is_password(component_name: str, variable_name: str) -> bool:
    return (component_name, variable_name) == (SECURITY_CONTROLLER, BASIC_AUTH_PASSWORD)


def _upsert(dialect_name: str) -> Executable:
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(DeviceModelVariable)
    return statement.on_conflict_do_update(
        index_elements=[DeviceModelVariable.__table__.c[column] for column in _KEY],
        set_={column: statement.excluded[column] for column in _REPORTED},
    )


async def list_variables(session: AsyncSession, charge_point_id: str) -> list[DeviceModelVariable]:
    query = (
        select(DeviceModelVariable)
        .where(DeviceModelVariable.charge_point_id == charge_point_id)
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
