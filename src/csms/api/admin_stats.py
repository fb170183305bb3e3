"""Figures for the dashboard's overview (roles admin and root)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ChargerCountsOut, EnergyDayOut, ErrorBody
from csms.services import statistics
from csms.services.errors import InvalidInput

router = APIRouter(prefix="/api/admin/stats", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
}


@router.get("/chargers", responses=_ERRORS)
async def charger_counts(admin: AdminUser, session: SessionDep) -> ChargerCountsOut:
    """How many chargers are registered, online, offline, charging, faulted and unavailable."""
    counts = await statistics.count_chargers(session)
    return ChargerCountsOut.model_validate(counts, from_attributes=True)


@router.get("/energy", responses={**_ERRORS, 422: {"description": "Unknown time zone or days out of range"}})
async def energy_per_day(
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
    tz: Annotated[
        str, Query(max_length=64, description="IANA time zone of the days", examples=["Europe/Paris"])
    ] = "UTC",
) -> list[EnergyDayOut]:
    """Energy delivered and sessions started per day, oldest first, today last."""
    found = await statistics.energy_per_day(session, days=days, zone=_zone(tz), now=runtime.clock())
    return [EnergyDayOut(day=day.day, energy_wh=day.energy_wh, sessions=day.sessions) for day in found]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None
