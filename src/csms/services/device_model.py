"""A 2.x station's device model, as its reports told it: the 2.x counterpart of the 1.6 configuration keys.

A station reports its components and variables in NotifyReport messages (the answer to GetBaseReport or
GetReport, often in several parts); each attribute (Actual, Target, MinSet, MaxSet) of a variable is one
row, replaced when a newer report names it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Executable, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import DeviceModelVariable

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


async def record_report(
    session: AsyncSession, charge_point_id: str, attributes: Sequence[ReportedAttribute], *, now: datetime
) -> None:
    if not attributes:
        return
    # One row per attribute (the last one wins): a multi-row upsert may not touch a row twice.
    by_key = {}
    for attribute in attributes:
        row = {**asdict(attribute), "charge_point_id": charge_point_id, "updated_at": now}
        by_key[tuple(row[column] for column in _KEY)] = row
    rows = list(by_key.values())
    await session.execute(_upsert(session.get_bind().dialect.name), rows)
    await session.commit()


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
