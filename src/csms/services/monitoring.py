"""A 2.x station's monitoring: the monitors it holds on its variables, its monitoring base and level.

csms keeps what a station accepted when an operator set monitors, base or level (SetVariableMonitoring,
SetMonitoringBase, SetMonitoringLevel through the generic call, services/charger_calls.py), forgets the
monitors it cleared (ClearVariableMonitoring), and takes in what the station reports of its monitors
(NotifyMonitoringReport, the answer to GetMonitoringReport, in as many parts as it likes). A monitor is
known by the station's own id of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, MonitoringSetting, VariableMonitor
from csms.domain.commands import ClearMonitor, SetMonitor
from csms.services.chargers import OCPP_16
from csms.services.errors import InvalidInput, NotFound

SET, REPORTED = "set", "reported"
_KEY = ("charge_point_id", "monitor_id")


@dataclass(frozen=True, slots=True)
class ComponentVariable:
    """A variable of a component of a station, as 2.x names it. Absent parts are '' or 0."""

    component_name: str
    variable_name: str
    component_instance: str = ""
    evse_id: int = 0
    evse_connector_id: int = 0
    variable_instance: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "component_name": self.component_name,
            "component_instance": self.component_instance,
            "evse_id": self.evse_id,
            "evse_connector_id": self.evse_connector_id,
            "variable_name": self.variable_name,
            "variable_instance": self.variable_instance,
        }


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor on a variable: its type (UpperThreshold, LowerThreshold, Delta, Periodic,
    PeriodicClockAligned), value (threshold, delta or seconds, as text), severity (0-9) and whether it
    watches only during transactions."""

    monitor_id: int
    variable: ComponentVariable
    monitor_type: str
    value: str
    severity: int
    transaction: bool = False


async def require_monitoring(session: AsyncSession, charge_point_id: str) -> None:
    """NotFound for an unknown charger, InvalidInput for a 1.6 one: 1.6 has no monitors."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if charger.ocpp_version == OCPP_16:
        raise InvalidInput(f"charger {charge_point_id} speaks OCPP 1.6: monitoring is not supported on 1.6")


async def record_set_answer(
    session: AsyncSession, charge_point_id: str, command: SetMonitor, answer: dict[str, Any], *, now: datetime
) -> None:
    """A monitor the station accepted (the answer as its version package read it) is kept under its id."""
    if answer.get("status") != "Accepted" or answer.get("monitor_id") is None:
        return
    variable = ComponentVariable(
        component_name=command.component_name,
        variable_name=command.variable_name,
        component_instance=command.component_instance or "",
        evse_id=command.evse_id or 0,
        evse_connector_id=command.evse_connector_id or 0,
        variable_instance=command.variable_instance or "",
    )
    monitor = Monitor(
        monitor_id=int(answer["monitor_id"]),
        variable=variable,
        monitor_type=command.monitor_type,
        value=value_text(command.value),
        severity=command.severity,
        transaction=command.transaction,
    )
    await record_monitors(session, charge_point_id, [monitor], source=SET, now=now)


async def record_clear_answer(
    session: AsyncSession, charge_point_id: str, command: ClearMonitor, answer: dict[str, Any]
) -> None:
    """Cleared, or the station no longer had it (NotFound): gone either way."""
    if answer.get("status") in ("Accepted", "NotFound"):
        await record_cleared(session, charge_point_id, [command.monitor_id])


def value_text(number: float) -> str:
    """A monitor's value as kept: an integral one without a fraction (a threshold of 230 reads 230, not 230.0)."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


async def record_monitors(
    session: AsyncSession, charge_point_id: str, monitors: Sequence[Monitor], *, source: str, now: datetime
) -> None:
    """Monitors the station accepted or reported: each replaces what csms knew under its id."""
    by_id = {
        monitor.monitor_id: {
            "charge_point_id": charge_point_id,
            "monitor_id": monitor.monitor_id,
            **monitor.variable.fields(),
            "monitor_type": monitor.monitor_type,
            "value": monitor.value,
            "severity": monitor.severity,
            "transaction": monitor.transaction,
            "source": source,
            "updated_at": now,
        }
        for monitor in monitors
    }
    if by_id:
        await session.execute(_upsert(session.get_bind().dialect.name), list(by_id.values()))
    await session.commit()


async def record_cleared(session: AsyncSession, charge_point_id: str, monitor_ids: Sequence[int]) -> None:
    if monitor_ids:
        await session.execute(
            delete(VariableMonitor).where(
                VariableMonitor.charge_point_id == charge_point_id, VariableMonitor.monitor_id.in_(monitor_ids)
            )
        )
    await session.commit()


async def record_settings(
    session: AsyncSession, charge_point_id: str, *, base: str | None = None, level: int | None = None, now: datetime
) -> None:
    """The base or level the station accepted (each kept until the next one it accepts)."""
    setting = await session.get(MonitoringSetting, charge_point_id)
    if setting is None:
        setting = MonitoringSetting(charge_point_id=charge_point_id)
        session.add(setting)
    if base is not None:
        setting.base = base
    if level is not None:
        setting.level = level
    setting.updated_at = now
    await session.commit()


async def forget_custom_monitors(session: AsyncSession, charge_point_id: str) -> None:
    """A base of FactoryDefault or HardWiredOnly removes the monitors set on the station (2.0.1 N03)."""
    await session.execute(
        delete(VariableMonitor).where(VariableMonitor.charge_point_id == charge_point_id, VariableMonitor.source == SET)
    )


async def list_monitors(session: AsyncSession, charge_point_id: str) -> list[VariableMonitor]:
    query = (
        select(VariableMonitor)
        .where(VariableMonitor.charge_point_id == charge_point_id)
        .order_by(
            VariableMonitor.component_name,
            VariableMonitor.component_instance,
            VariableMonitor.evse_id,
            VariableMonitor.evse_connector_id,
            VariableMonitor.variable_name,
            VariableMonitor.variable_instance,
            VariableMonitor.monitor_id,
        )
    )
    return list((await session.scalars(query)).all())


async def settings_of(session: AsyncSession, charge_point_id: str) -> MonitoringSetting | None:
    return await session.get(MonitoringSetting, charge_point_id)


def _upsert(dialect_name: str) -> Executable:
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(VariableMonitor)
    return statement.on_conflict_do_update(
        index_elements=[VariableMonitor.charge_point_id, VariableMonitor.monitor_id],
        set_={column.name: column for column in statement.excluded if column.name not in (*_KEY, "id")},
    )
