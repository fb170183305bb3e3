"""Smart charging (admin, root): charging profiles and composite schedules on chargers of any OCPP version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import CallStatusOut
from csms.api.operations import CALL_ERRORS, require_charger
from csms.api.smart_charging_schemas import (
    ChargingProfileBody,
    CompositeScheduleAnswerOut,
    Purpose,
    RateUnit,
)
from csms.domain.commands import ClearChargingProfile, GetCompositeSchedule
from csms.services import smart_charging

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
