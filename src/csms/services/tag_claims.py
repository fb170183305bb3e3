"""Which idTag values a user may register as their own.

A user's tag is charged as the user's, so a value that already means something else must stay out of
reach: another tag (OCPP compares idTags without regard to case, CiString), the parent (group) id of
existing tags, whose tariff and authorization the group's cards share, or a value an operator holds a
connector for. Operators register tags and make groups through the admin API without these limits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import IdTag, Reservation
from csms.services import id_tags, reservations
from csms.services.errors import AlreadyExists


async def register_own_id_tag(
    session: AsyncSession,
    *,
    id_tag: str,
    owner_id: int,
    label: str | None,
    vehicle_id: int | None,
    now: datetime,
    token_type: str | None = None,
) -> IdTag:
    """Register an RFID card to a user's account, unless the value is in use (409)."""
    id_tags.validate_id_tag(id_tag)
    if await _is_in_use(session, id_tag, now=now):
        raise AlreadyExists(f"idTag {id_tag} is already registered or in use; choose another")
    return await id_tags.register_id_tag(
        session,
        id_tag=id_tag,
        owner_id=owner_id,
        label=label,
        vehicle_id=vehicle_id,
        now=now,
        token_type=token_type,
    )


async def _is_in_use(session: AsyncSession, id_tag: str, *, now: datetime) -> bool:
    value = id_tag.lower()
    as_tag_or_group = select(IdTag.id).where(
        or_(func.lower(IdTag.id_tag) == value, func.lower(IdTag.parent_id_tag) == value)
    )
    held_for = select(Reservation.id).where(
        or_(func.lower(Reservation.id_tag) == value, func.lower(Reservation.parent_id_tag) == value),
        Reservation.status.in_(reservations.HOLDING_STATUSES),
        Reservation.expires_at > now,
    )
    for query in (as_tag_or_group, held_for):
        if await session.scalar(query.limit(1)) is not None:
            return True
    return False
