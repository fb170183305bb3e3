"""Reservations from the app: hold a connector for a while, then start charging there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from csms.api.deps import CurrentUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import ReservationCreate, ReservationOut
from csms.api.operations import reservation_out
from csms.api.schemas import ErrorBody
from csms.domain.commands import CancelReservation
from csms.services import reservations
from csms.services.errors import Conflict

router = APIRouter(prefix="/api/reservations", tags=["reservations"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Unknown charger or reservation"},
    409: {
        "model": ErrorBody,
        "description": "Connector already reserved, the account holds its most reservations, charger not "
        "connected, or not held",
    },
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


@router.post("", responses=_ERRORS)
async def reserve_connector(
    body: ReservationCreate, user: CurrentUser, runtime: RuntimeDep, session: SessionDep
) -> ReservationOut:
    """Reserve a connector (1.6) or EVSE (2.0.1) for the caller's idTag (ReserveNow); the status is the
    charger's answer."""
    reservation = await reservations.plan_reservation(
        session,
        user_id=user.id,
        charge_point_id=body.evse_id,
        connector_id=body.connector_id or reservations.ANY_CONNECTOR,
        connector_type=body.connector_type,
        duration=timedelta(minutes=body.minutes),
        limits=_limits(runtime),
        now=runtime.clock(),
    )
    try:
        answer = await runtime.commands.send_command(reservation.charge_point_id, reservations.reserve_now(reservation))
    except Exception:
        await reservations.record_status(session, reservation, "SendFailed", now=runtime.clock())
        raise
    await reservations.record_status(session, reservation, str(answer["status"]), now=runtime.clock())
    return reservation_out(reservation, runtime)


@router.get("", responses=_ERRORS)
async def my_reservations(user: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> list[ReservationOut]:
    """The caller's reservations, newest first."""
    found = await reservations.list_reservations(session, user_id=user.id)
    return [reservation_out(reservation, runtime) for reservation in found]


@router.delete("/{reservation_id}", responses=_ERRORS)
async def cancel_reservation(
    reservation_id: int, user: CurrentUser, runtime: RuntimeDep, session: SessionDep
) -> ReservationOut:
    """Cancel one of the caller's held reservations (CancelReservation)."""
    reservation = await reservations.reservation_for(
        session, user_id=user.id, role=user.role, reservation_id=reservation_id
    )
    reservations.require_cancellable(reservation, now=runtime.clock())
    charge_point_id = reservation.charge_point_id
    answer = await runtime.commands.send_command(charge_point_id, CancelReservation(reservation.id))
    if answer.get("status") != "Accepted":
        raise Conflict(f"the charger refused to cancel reservation {reservation.id}")
    await reservations.record_cancelled(session, charge_point_id, reservation.id, now=runtime.clock())
    await session.refresh(reservation)
    return reservation_out(reservation, runtime)


def _limits(runtime: RuntimeDep) -> reservations.ReservationLimits:
    settings = runtime.settings
    return reservations.ReservationLimits(
        max_active_per_account=settings.max_active_reservations_per_user,
        max_duration=timedelta(minutes=settings.max_reservation_minutes),
    )
