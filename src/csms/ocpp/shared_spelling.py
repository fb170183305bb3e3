"""The parts of a payload that OCPP 1.6 and 2.x spell alike: optional fields, timestamps and charging
schedule periods. Each version's `commands.py` spells its own calls and uses these for the common parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.commands import SchedulePeriod
from csms.ocpp.rpc import Payload
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` without those that are None: an optional field is left out, never sent as null."""
    return {name: value for name, value in fields.items() if value is not None}


def timestamp(moment: datetime | None) -> str | None:
    return format_ocpp_timestamp(moment) if moment is not None else None


def read_timestamp(value: str | None) -> datetime | None:
    return parse_ocpp_timestamp(value) if value else None


def schedule_period(period: SchedulePeriod) -> dict[str, Any]:
    """A ChargingSchedulePeriod (1.6 and 2.0.1 alike), its numberPhases None when not given."""
    return {"startPeriod": period.start_period, "limit": period.limit, "numberPhases": period.number_phases}


def read_schedule_period(period: Payload) -> SchedulePeriod:
    return SchedulePeriod(int(period["startPeriod"]), float(period["limit"]), period.get("numberPhases"))


def schedule_period_fields(period: Payload) -> dict[str, Any]:
    """A ChargingSchedulePeriod as csms's API spells it."""
    return {
        "start_period": period["startPeriod"],
        "limit": period["limit"],
        "number_phases": period.get("numberPhases"),
    }
