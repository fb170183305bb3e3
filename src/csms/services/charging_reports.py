"""What a 2.0.1 station reports of its smart charging (block K): the profiles it lists when asked
(ReportChargingProfiles), limits set on it from outside csms (NotifyChargingLimit, e.g. by an energy
manager, until ClearedChargingLimit), and what its EV needs and chose (NotifyEVChargingNeeds,
NotifyEVChargingSchedule)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import ChargingLimit, EvChargingReport, ReportedChargingProfile
from csms.domain.commands import ChargingProfileValue

CHARGING_NEEDS = "ChargingNeeds"
CHARGING_SCHEDULE = "ChargingSchedule"
_LISTED = 100  # limits and EV reports listed per charger, newest first


@dataclass(frozen=True, slots=True)
class ReportedProfiles:
    """One ReportChargingProfiles part: the profiles of one EVSE (0: the station) from one source."""

    request_id: int
    evse_id: int
    source: str
    profiles: tuple[ChargingProfileValue, ...]


@dataclass(frozen=True, slots=True)
class LimitReport:
    """An external limit; `schedules` in csms's words (JSON fields), when the station gave them."""

    evse_id: int | None
    source: str
    is_grid_critical: bool | None
    schedules: list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class EvReport:
    """What the station told of the EV on an EVSE; `details` its own words (JSON, as it sent them)."""

    evse_id: int
    kind: str
    energy_transfer: str | None
    departure_time: datetime | None
    details: dict[str, Any]


async def record_reported_profiles(
    session: AsyncSession, charge_point_id: str, part: ReportedProfiles, *, now: datetime
) -> None:
    """Keep one part of the station's report; a part of a new request replaces the last report."""
    await session.execute(
        delete(ReportedChargingProfile).where(
            ReportedChargingProfile.charge_point_id == charge_point_id,
            ReportedChargingProfile.request_id != part.request_id,
        )
    )
    session.add_all(
        ReportedChargingProfile(
            charge_point_id=charge_point_id,
            request_id=part.request_id,
            evse_id=part.evse_id,
            source=part.source,
            charging_profile_id=profile.profile_id,
            stack_level=profile.stack_level,
            purpose=profile.purpose,
            profile=json.dumps(profile.fields(), sort_keys=True),
            received_at=now,
        )
        for profile in part.profiles
    )
    await session.commit()


async def list_reported_profiles(session: AsyncSession, charge_point_id: str) -> list[ReportedChargingProfile]:
    query = (
        select(ReportedChargingProfile)
        .where(ReportedChargingProfile.charge_point_id == charge_point_id)
        .order_by(ReportedChargingProfile.evse_id, ReportedChargingProfile.source, ReportedChargingProfile.id)
    )
    return list((await session.scalars(query)).all())


async def record_limit(session: AsyncSession, charge_point_id: str, limit: LimitReport, *, now: datetime) -> None:
    session.add(
        ChargingLimit(
            charge_point_id=charge_point_id,
            evse_id=limit.evse_id,
            source=limit.source,
            is_grid_critical=limit.is_grid_critical,
            schedules=json.dumps(limit.schedules, sort_keys=True) if limit.schedules is not None else None,
            reported_at=now,
        )
    )
    await session.commit()


async def record_limit_cleared(
    session: AsyncSession, charge_point_id: str, *, source: str, evse_id: int | None, now: datetime
) -> int:
    """Mark the source's limits cleared: on the EVSE, or everywhere when the station names none; how many."""
    statement = update(ChargingLimit).where(
        ChargingLimit.charge_point_id == charge_point_id,
        ChargingLimit.source == source,
        ChargingLimit.cleared_at.is_(None),
    )
    if evse_id is not None:
        statement = statement.where(ChargingLimit.evse_id == evse_id)
    result = await session.execute(statement.values(cleared_at=now))
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def list_limits(session: AsyncSession, charge_point_id: str) -> list[ChargingLimit]:
    query = (
        select(ChargingLimit)
        .where(ChargingLimit.charge_point_id == charge_point_id)
        .order_by(ChargingLimit.id.desc())
        .limit(_LISTED)
    )
    return list((await session.scalars(query)).all())


def limit_schedules(limit: ChargingLimit) -> list[dict[str, Any]] | None:
    schedules: list[dict[str, Any]] | None = json.loads(limit.schedules) if limit.schedules else None
    return schedules


async def record_ev_report(session: AsyncSession, charge_point_id: str, report: EvReport, *, now: datetime) -> None:
    session.add(
        EvChargingReport(
            charge_point_id=charge_point_id,
            evse_id=report.evse_id,
            kind=report.kind,
            energy_transfer=report.energy_transfer,
            departure_time=report.departure_time,
            details=json.dumps(report.details, sort_keys=True),
            received_at=now,
        )
    )
    await session.commit()


async def list_ev_reports(session: AsyncSession, charge_point_id: str) -> list[EvChargingReport]:
    query = (
        select(EvChargingReport)
        .where(EvChargingReport.charge_point_id == charge_point_id)
        .order_by(EvChargingReport.id.desc())
        .limit(_LISTED)
    )
    return list((await session.scalars(query)).all())


def ev_report_details(report: EvChargingReport) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(report.details)
    return details
