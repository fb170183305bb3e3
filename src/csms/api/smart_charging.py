"""Smart charging (admin, root): charging profiles and composite schedules on chargers of any OCPP version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import CallStatusOut
from csms.api.operations import ADMIN_ERRORS, CALL_ERRORS, require_charger
from csms.api.smart_charging_schemas import (
    ChargingLimitOut,
    ChargingProfileBody,
    ChargingProfileOut,
    CompositeScheduleAnswerOut,
    EvChargingReportOut,
    Purpose,
    RateUnit,
    ReportedChargingProfileOut,
)
from csms.domain.commands import ClearChargingProfile, GetCompositeSchedule
from csms.services import charging_profiles, charging_reports, smart_charging

router = APIRouter(prefix="/api/admin/chargers/{charge_point_id}", tags=["smart charging"])
_INT32 = 2**31 - 1


@router.post("/charging_profiles", responses=CALL_ERRORS)
async def set_charging_profile(
    charge_point_id: str, body: ChargingProfileBody, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> CallStatusOut:
    """Put a charging profile on a connector (1.6) or EVSE (2.0.1) with SetChargingProfile; kept once accepted."""
    await require_charger(session, charge_point_id)
    command = await smart_charging.plan_profile(session, charge_point_id, body.to_command())
    await session.close()
    status = await smart_charging.set_profile(
        runtime.session_factory, runtime.commands.send_command, charge_point_id, command, now=runtime.clock()
    )
    return CallStatusOut(status=status)


@router.delete("/charging_profiles", responses=CALL_ERRORS)
async def clear_charging_profiles(
    charge_point_id: str,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    charging_profile_id: Annotated[int | None, Query(ge=0, le=_INT32, description="Only this profile")] = None,
    connector_id: Annotated[int | None, Query(ge=0, le=_INT32, description="1.6 connectorId, 2.0.1 evseId")] = None,
    purpose: Purpose | None = None,
    stack_level: Annotated[int | None, Query(ge=0, le=_INT32)] = None,
) -> CallStatusOut:
    """Clear the profile with an id, or those the criteria name (none: every profile), with ClearChargingProfile."""
    await require_charger(session, charge_point_id)
    await session.close()
    command = ClearChargingProfile(charging_profile_id, connector_id, purpose, stack_level)
    status = await smart_charging.clear_profiles(
        runtime.session_factory, runtime.commands.send_command, charge_point_id, command, now=runtime.clock()
    )
    return CallStatusOut(status=status)


@router.get("/composite_schedule", responses=CALL_ERRORS)
async def composite_schedule(
    charge_point_id: str,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    connector_id: Annotated[int, Query(ge=0, le=_INT32, description="0: the charger's grid connection")],
    duration: Annotated[int, Query(ge=1, le=_INT32, description="Seconds from now")] = 86400,
    unit: RateUnit | None = None,
) -> CompositeScheduleAnswerOut:
    """What the connector (1.6) or EVSE (2.0.1) will draw at most over `duration`, from GetCompositeSchedule."""
    await require_charger(session, charge_point_id)
    await session.close()
    command = GetCompositeSchedule(connector_id, duration, unit)
    answer = await smart_charging.composite_schedule(runtime.commands.send_command, charge_point_id, command)
    return CompositeScheduleAnswerOut.model_validate(answer)


@router.get("/charging_profiles/reported", responses=ADMIN_ERRORS)
async def reported_charging_profiles(
    charge_point_id: str, admin: AdminUser, session: SessionDep
) -> list[ReportedChargingProfileOut]:
    """The profiles a 2.0.1 station listed in its last ReportChargingProfiles (all its parts), per EVSE
    (send GetChargingProfiles to refresh them)."""
    await require_charger(session, charge_point_id)
    return [
        ReportedChargingProfileOut(
            **ChargingProfileOut.of(
                reported.evse_id, charging_profiles.profile_value(reported.profile), reported.received_at
            ).model_dump(),
            request_id=reported.request_id,
            source=reported.source,
        )
        for reported in await charging_reports.list_reported_profiles(session, charge_point_id)
    ]


@router.get("/charging_limits", responses=ADMIN_ERRORS)
async def charging_limits(charge_point_id: str, admin: AdminUser, session: SessionDep) -> list[ChargingLimitOut]:
    """External limits a 2.0.1 station reported (NotifyChargingLimit), newest first, with when they were cleared."""
    await require_charger(session, charge_point_id)
    return [
        ChargingLimitOut(
            evse_id=limit.evse_id,
            source=limit.source,
            is_grid_critical=limit.is_grid_critical,
            schedules=charging_reports.limit_schedules(limit),
            reported_at=limit.reported_at,
            cleared_at=limit.cleared_at,
        )
        for limit in await charging_reports.list_limits(session, charge_point_id)
    ]


@router.get("/ev_charging_reports", responses=ADMIN_ERRORS)
async def ev_charging_reports(charge_point_id: str, admin: AdminUser, session: SessionDep) -> list[EvChargingReportOut]:
    """What 2.0.1 stations told of their EVs (NotifyEVChargingNeeds, NotifyEVChargingSchedule), newest first."""
    await require_charger(session, charge_point_id)
    return [
        EvChargingReportOut(
            evse_id=report.evse_id,
            kind=report.kind,
            energy_transfer=report.energy_transfer,
            departure_time=report.departure_time,
            details=charging_reports.ev_report_details(report),
            received_at=report.received_at,
        )
        for report in await charging_reports.list_ev_reports(session, charge_point_id)
    ]
