"""Operating chargers (admin, root): configuration, password, local lists, reservations, profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import (
    CallStatusOut,
    ChargerCommandOut,
    ConfigurationKeyOut,
    LocalListEntryOut,
    LocalListOut,
    LocalListSend,
    LocalListSendOut,
    PasswordChange,
    ReservationOut,
)
from csms.api.schemas import ErrorBody
from csms.api.smart_charging_schemas import ChargingProfileOut
from csms.db.models import Reservation
from csms.domain.commands import ChangePassword
from csms.services import (
    chargers,
    charging_profiles,
    command_log,
    configuration,
    local_list,
    reservations,
)
from csms.services.chargers import validate_charger_password
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin/chargers/{charge_point_id}", tags=["charger operations"])

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown charger, file, rollout or reservation"},
}
CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    **ADMIN_ERRORS,
    409: {"model": ErrorBody, "description": "Charger not connected"},
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


async def require_charger(session: SessionDep, charge_point_id: str) -> None:
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")


@router.get("/configuration", responses=ADMIN_ERRORS)
async def charger_configuration(
    charge_point_id: str, admin: AdminUser, session: SessionDep
) -> list[ConfigurationKeyOut]:
    """The configuration keys the charger last reported (send GetConfiguration to refresh them)."""
    await require_charger(session, charge_point_id)
    found = await configuration.list_configuration(session, charge_point_id)
    return [ConfigurationKeyOut.model_validate(key) for key in found]


@router.post("/password", responses=CALL_ERRORS)
async def change_charger_password(
    charge_point_id: str, body: PasswordChange, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> CallStatusOut:
    """Give the charger a new Basic-auth password (1.6: ChangeConfiguration AuthorizationKey; 2.0.1: SetVariables
    SecurityCtrlr.BasicAuthPassword); it counts once accepted."""
    await require_charger(session, charge_point_id)
    validate_charger_password(body.password)
    await session.close()
    answer = await runtime.commands.send_command(charge_point_id, ChangePassword(body.password))
    status = str(answer["status"])
    if status in configuration.APPLIED_STATUSES:
        async with runtime.session_factory() as recording:
            await configuration.record_password(recording, charge_point_id, body.password)
    return CallStatusOut(status=status)


@router.get("/commands", responses=ADMIN_ERRORS)
async def charger_commands(
    charge_point_id: str, admin: AdminUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ChargerCommandOut]:
    """Calls sent to the charger, newest first: who asked, from which node, what the charger answered."""
    await require_charger(session, charge_point_id)
    found = await command_log.list_commands(session, charge_point_id, limit=limit)
    return [ChargerCommandOut.model_validate(view) for view in found]


@router.get("/local_list", responses=ADMIN_ERRORS)
async def charger_local_list(charge_point_id: str, admin: AdminUser, session: SessionDep) -> LocalListOut:
    """The local authorization list csms last saw the charger accept."""
    await require_charger(session, charge_point_id)
    state = await local_list.get_state(session, charge_point_id)
    entries = await local_list.list_entries(session, charge_point_id)
    return LocalListOut(
        list_version=state.list_version if state else 0,
        reported_version=state.reported_version if state else None,
        entries=[LocalListEntryOut(**_entry_fields(entry)) for entry in entries],
    )


@router.post("/local_list", responses=CALL_ERRORS)
async def send_charger_local_list(
    charge_point_id: str, body: LocalListSend, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> LocalListSendOut:
    """Send the charger its local list built from csms's idTags: all of them (Full) or what changed (Differential)."""
    await require_charger(session, charge_point_id)
    await session.close()
    status, update = await runtime.local_lists.send_update(
        charge_point_id, update_type=body.update_type, now=runtime.clock()
    )
    return LocalListSendOut(
        status=status,
        list_version=update.list_version,
        update_type=update.update_type,
        entries=len(update.entries) + len(update.removals),
    )


@router.get("/charging_profiles", responses=ADMIN_ERRORS)
async def charger_charging_profiles(
    charge_point_id: str, admin: AdminUser, session: SessionDep
) -> list[ChargingProfileOut]:
    """The charging profiles the charger accepted and still holds, per connector (1.6) or EVSE (2.0.1)."""
    await require_charger(session, charge_point_id)
    return [
        ChargingProfileOut.of(stored.connector_id, charging_profiles.stored_profile(stored), stored.created_at)
        for stored in await charging_profiles.list_profiles(session, charge_point_id)
    ]


@router.get("/reservations", responses=ADMIN_ERRORS)
async def charger_reservations(
    charge_point_id: str, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> list[ReservationOut]:
    """The charger's reservations, newest first."""
    await require_charger(session, charge_point_id)
    found = await reservations.list_reservations(session, charge_point_id=charge_point_id)
    return [reservation_out(reservation, runtime) for reservation in found]


def reservation_out(reservation: Reservation, runtime: RuntimeDep) -> ReservationOut:
    return ReservationOut(
        id=reservation.id,
        charge_point_id=reservation.charge_point_id,
        connector_id=reservation.connector_id,
        connector_type=reservation.connector_type,
        id_tag=reservation.id_tag,
        status=reservations.effective_status(reservation, now=runtime.clock()),
        expires_at=reservation.expires_at,
        transaction_id=reservation.transaction_id,
        created_at=reservation.created_at,
    )


def _entry_fields(entry: local_list.Entry) -> dict[str, Any]:
    return {
        "id_tag": entry.id_tag,
        "status": entry.status,
        "expiry_date": entry.expiry_date,
        "parent_id_tag": entry.parent_id_tag,
    }
