"""idTags and what Authorize and StartTransaction answer for them (OCPP 1.6 §7.15 IdTagInfo)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import IdTag, Transaction, User

ACCEPTED = "Accepted"
BLOCKED = "Blocked"
EXPIRED = "Expired"
INVALID = "Invalid"
CONCURRENT_TX = "ConcurrentTx"

ID_TAG_MAX_LENGTH = 20  # OCPP CiString20
_APP_TAG_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


def new_app_id_tag() -> str:
    """A random idTag for an account: 'APP' and 16 characters, ~82 bits, fits CiString20."""
    return "APP" + "".join(secrets.choice(_APP_TAG_ALPHABET) for _ in range(16))


async def authorize_id_tag(
    session: AsyncSession,
    id_tag: str,
    *,
    now: datetime,
    ignore_transaction_id: int | None = None,
) -> IdTagInfo:
    """What the central system answers for an idTag right now.

    ConcurrentTx when the tag is already charging somewhere (a transaction is open with it),
    except for the transaction named by `ignore_transaction_id`.
    """
    row = (
        await session.execute(
            select(IdTag, User.is_active)
            .outerjoin(User, IdTag.user_id == User.id)
            .where(IdTag.id_tag == id_tag)
        )
    ).first()
    if row is None:
        return IdTagInfo(status=INVALID)
    tag, owner_is_active = row
    info = _static_status(tag, owner_is_active, now)
    if info.status != ACCEPTED:
        return info
    if await _has_open_transaction(session, id_tag, ignore_transaction_id):
        return IdTagInfo(status=CONCURRENT_TX, expiry_date=info.expiry_date, parent_id_tag=info.parent_id_tag)
    return info


def _static_status(tag: IdTag, owner_is_active: bool | None, now: datetime) -> IdTagInfo:
    if tag.status == BLOCKED or owner_is_active is False:
        return IdTagInfo(status=BLOCKED, parent_id_tag=tag.parent_id_tag)
    if tag.status == EXPIRED or (tag.expiry_date is not None and tag.expiry_date <= now):
        return IdTagInfo(status=EXPIRED, expiry_date=tag.expiry_date, parent_id_tag=tag.parent_id_tag)
    return IdTagInfo(status=ACCEPTED, expiry_date=tag.expiry_date, parent_id_tag=tag.parent_id_tag)


async def _has_open_transaction(
    session: AsyncSession, id_tag: str, ignore_transaction_id: int | None
) -> bool:
    query = select(Transaction.id).where(Transaction.id_tag == id_tag, Transaction.stop_timestamp.is_(None))
    if ignore_transaction_id is not None:
        query = query.where(Transaction.id != ignore_transaction_id)
    return (await session.scalar(query.limit(1))) is not None


async def create_id_tag(
    session: AsyncSession,
    *,
    id_tag: str,
    now: datetime,
    user_id: int | None = None,
    status: str = ACCEPTED,
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = None,
) -> IdTag:
    tag = IdTag(
        id_tag=id_tag,
        user_id=user_id,
        status=status,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
        created_at=now,
    )
    session.add(tag)
    await session.flush()
    return tag


async def owner_of_id_tag(session: AsyncSession, id_tag: str) -> int | None:
    return await session.scalar(select(IdTag.user_id).where(IdTag.id_tag == id_tag))
