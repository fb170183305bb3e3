"""Reservations (OCPP 1.6 §3.12, §5.13): a connector held for an idTag until it expires.

The reservation's id is the reservationId the charger is given; a StartTransaction that names it
consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, IdTag, Reservation, User
from csms.domain.commands import ReserveNow
from csms.services.accounts import app_id_tag
from csms.services.chargers import OCPP_16
from csms.services.charging import STAFF_ROLES, require_known_connector
from csms.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied

PENDING = "Pending"
ACCEPTED = "Accepted"
CANCELLED = "Cancelled"
USED = "Used"
EXPIRED = "Expired"
HOLDING_STATUSES = (PENDING, ACCEPTED)  # a connector is held while the reservation is one of these
MIN_DURATION = timedelta(minutes=1)
ANY_CONNECTOR = 0


@dataclass(frozen=True, slots=True)
class ReservationLimits:
    """What one account may hold through the app (settings max_active_reservations_per_user and
    max_reservation_minutes); staff are held to them too, their own ReserveNow calls are not."""

    max_active_per_account: int = 1
    max_duration: timedelta = timedelta(hours=1)


async def plan_reservation(
    session: AsyncSession,
    *,
    user_id: int,
    charge_point_id: str,
    connector_id: int,
    duration: timedelta,
    limits: ReservationLimits,
    now: datetime,
    connector_type: str | None = None,
) -> Reservation:
    """A pending reservation with the user's app idTag, stored so its id can be the reservationId.

    Connector 0 is any connector (1.6) or EVSE (2.x; with `connector_type`, any with a connector of that
    type): the charger picks one when the driver arrives, and says whether it can hold one at all."""
    if not MIN_DURATION <= duration <= limits.max_duration:
        minutes = int(limits.max_duration.total_seconds() // 60)
        raise InvalidInput(f"a reservation lasts from 1 to {minutes} minutes")
    await _hold_account(session, user_id)
    if not await session.scalar(select(User.is_active).where(User.id == user_id)):
        raise PermissionDenied("this account is blocked")
    if await _active_count(session, user_id, now=now) >= limits.max_active_per_account:
        raise Conflict(
            f"this account already holds {limits.max_active_per_account} reservation(s), the most it may at once; "
            "cancel one or let it expire first"
        )
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if connector_type is not None and charger.ocpp_version == OCPP_16:
        raise InvalidInput(f"{charge_point_id} speaks OCPP 1.6, which reserves a connector by its id, not by its type")
    if connector_id != ANY_CONNECTOR:
        await require_known_connector(session, charge_point_id, connector_id)
        if await _holding(session, charge_point_id, connector_id, now=now) is not None:
            raise Conflict(f"connector {connector_id} of {charge_point_id} is already reserved")
    id_tag = await app_id_tag(session, user_id)
    reservation = Reservation(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        connector_type=connector_type,
        id_tag=id_tag,
        # Its group: the charger lets any card of the group use the reservation (1.6 §3.12.4, 2.0.1 H01).
        parent_id_tag=await session.scalar(select(IdTag.parent_id_tag).where(IdTag.id_tag == id_tag)),
        user_id=user_id,
        status=PENDING,
        expires_at=now + duration,
        created_at=now,
        updated_at=now,
    )
    session.add(reservation)
    await session.commit()
    return reservation


async def plan_token_reservation(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    parent_id_tag: str | None,
    expires_at: datetime,
    max_duration: timedelta,
    now: datetime,
    replacing: Reservation | None = None,
) -> Reservation:
    """A pending reservation for a token of no csms account (an eMSP's driver, OCPI RESERVE_NOW), held to the
    connector rules of the app's: a known connector that no other reservation holds, for 1 minute up to
    `max_duration`. `replacing` is the reservation it renews (the same reservationId: the charger replaces it)."""
    if not MIN_DURATION <= expires_at - now <= max_duration:
        minutes = int(max_duration.total_seconds() // 60)
        raise InvalidInput(f"a reservation lasts from 1 to {minutes} minutes")
    await require_known_connector(session, charge_point_id, connector_id)
    holding = await _holding(session, charge_point_id, connector_id, now=now)
    if holding is not None and holding is not replacing:
        raise Conflict(f"connector {connector_id} of {charge_point_id} is already reserved")
    reservation = replacing or Reservation(created_at=now)
    if replacing is None:
        session.add(reservation)
    reservation.charge_point_id, reservation.connector_id = charge_point_id, connector_id
    reservation.id_tag, reservation.parent_id_tag = id_tag, parent_id_tag
    reservation.status, reservation.expires_at, reservation.updated_at = PENDING, expires_at, now
    await session.commit()
    return reservation


def reserve_now(reservation: Reservation) -> ReserveNow:
    """The command that asks the charger to hold what `reservation` is for."""
    return ReserveNow(
        reservation_id=reservation.id,
        connector_id=reservation.connector_id,
        id_token=reservation.id_tag,
        expires_at=reservation.expires_at,
        group_id_token=reservation.parent_id_tag,
        connector_type=reservation.connector_type,
    )


async def record_status(session: AsyncSession, reservation: Reservation, status: str, *, now: datetime) -> None:
    """The charger's answer to ReserveNow (Accepted, Faulted, Occupied, Rejected, Unavailable) or a cancellation."""
    reservation.status, reservation.updated_at = status, now
    await session.commit()


async def record_reserve_now(
    session: AsyncSession, charge_point_id: str, command: ReserveNow, *, status: str, now: datetime
) -> None:
    """An operator's own ReserveNow call: kept like one made from the app."""
    reservation = await session.get(Reservation, command.reservation_id)
    if reservation is None:
        reservation = Reservation(id=command.reservation_id, created_at=now)
        session.add(reservation)
    elif reservation.charge_point_id != charge_point_id:
        return  # an id csms gave another charger; that reservation stays as it is
    reservation.charge_point_id = charge_point_id
    reservation.connector_id = command.connector_id
    reservation.connector_type = command.connector_type
    reservation.id_tag = command.id_token
    reservation.parent_id_tag = command.group_id_token
    reservation.expires_at = command.expires_at
    await record_status(session, reservation, status, now=now)


async def record_reported(
    session: AsyncSession, charge_point_id: str, reservation_id: int, status: str, *, now: datetime
) -> None:
    """A 2.x station's ReservationStatusUpdate: the reservation Expired there, or was Removed."""
    reservation = await session.get(Reservation, reservation_id)
    if reservation is not None and reservation.charge_point_id == charge_point_id and reservation.status == ACCEPTED:
        await record_status(session, reservation, EXPIRED if status == EXPIRED else CANCELLED, now=now)


async def record_cancelled(session: AsyncSession, charge_point_id: str, reservation_id: int, *, now: datetime) -> None:
    reservation = await session.get(Reservation, reservation_id)
    if reservation is not None and reservation.charge_point_id == charge_point_id:
        await record_status(session, reservation, CANCELLED, now=now)


async def consume_reservation(
    session: AsyncSession, *, charge_point_id: str, reservation_id: int, transaction_id: int, now: datetime
) -> bool:
    """A StartTransaction named this reservation: it is used up. False when it was not this charger's or not held."""
    reservation = await session.get(Reservation, reservation_id)
    if reservation is None or reservation.charge_point_id != charge_point_id or reservation.status != ACCEPTED:
        return False
    reservation.status, reservation.transaction_id, reservation.updated_at = USED, transaction_id, now
    await session.commit()
    return True


async def reservation_for(session: AsyncSession, *, user_id: int, role: str, reservation_id: int) -> Reservation:
    """A user's own reservation, or any for staff; others' look unknown."""
    reservation = await session.get(Reservation, reservation_id)
    if reservation is None or (role not in STAFF_ROLES and reservation.user_id != user_id):
        raise NotFound(f"reservation {reservation_id} not found")
    return reservation


def require_cancellable(reservation: Reservation, *, now: datetime) -> None:
    if effective_status(reservation, now=now) != ACCEPTED:
        raise Conflict(f"reservation {reservation.id} is {effective_status(reservation, now=now)}, not held")


def effective_status(reservation: Reservation, *, now: datetime) -> str:
    """Accepted reservations past their expiry are Expired, without anyone having to write it."""
    if reservation.status == ACCEPTED and reservation.expires_at <= now:
        return EXPIRED
    return reservation.status


async def list_reservations(
    session: AsyncSession, *, user_id: int | None = None, charge_point_id: str | None = None, limit: int = 100
) -> list[Reservation]:
    query = select(Reservation)
    if user_id is not None:
        query = query.where(Reservation.user_id == user_id)
    if charge_point_id is not None:
        query = query.where(Reservation.charge_point_id == charge_point_id)
    return list((await session.scalars(query.order_by(Reservation.id.desc()).limit(limit))).all())


async def _hold_account(session: AsyncSession, user_id: int) -> None:
    """Serialise one account's reservations until this transaction ends, so two made at once cannot both
    pass the count: a write to the account's row takes its row lock (PostgreSQL) or the write lock (SQLite)."""
    await session.execute(update(User).where(User.id == user_id).values(is_active=User.is_active))


async def _active_count(session: AsyncSession, user_id: int, *, now: datetime) -> int:
    query = select(func.count(Reservation.id)).where(
        Reservation.user_id == user_id, Reservation.status.in_(HOLDING_STATUSES), Reservation.expires_at > now
    )
    return int(await session.scalar(query) or 0)


async def is_connector_reserved(
    session: AsyncSession, *, charge_point_id: str, connector_id: int, now: datetime
) -> bool:
    """Whether a reservation holds the connector now (pending, or accepted by the charger, and not expired)."""
    return await _holding(session, charge_point_id, connector_id, now=now) is not None


async def _holding(
    session: AsyncSession, charge_point_id: str, connector_id: int, *, now: datetime
) -> Reservation | None:
    query = select(Reservation).where(
        Reservation.charge_point_id == charge_point_id,
        Reservation.connector_id == connector_id,
        Reservation.status.in_(HOLDING_STATUSES),
        Reservation.expires_at > now,
    )
    return (await session.scalars(query.limit(1))).first()
