"""Account management by operators: who may change whom, blocking, deletion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import IdTag, Transaction, User
from csms.services.accounts import ROLES, end_all_sessions, set_password
from csms.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from csms.services.login_cache import Principal


async def list_users(
    session: AsyncSession, *, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[User], int]:
    """A page of accounts (username contains `search`), and how many match in all."""
    query = select(User)
    if search:
        query = query.where(User.username.contains(search.strip().lower(), autoescape=True))
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = await session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return list(page.all()), total


async def usernames(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """The usernames of these accounts (deleted ones are missing)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {row.id: row.username for row in rows}


async def managed_user(session: AsyncSession, *, actor: Principal, user_id: int) -> User:
    """An account the actor may manage: admins manage everyone but root accounts; root manages all."""
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound(f"user {user_id} not found")
    if target.role == "root" and actor.role != "root":
        raise PermissionDenied("only root may manage a root account")
    return target


async def update_user(
    session: AsyncSession,
    *,
    actor: Principal,
    user_id: int,
    role: str | None,
    is_active: bool | None,
    now: datetime,
) -> User:
    target = await managed_user(session, actor=actor, user_id=user_id)
    if role is not None and role != target.role:
        await _change_role(session, actor=actor, target=target, role=role)
    if is_active is not None and is_active != target.is_active:
        if target.id == actor.id:
            raise Conflict("you cannot block your own account")
        target.is_active = is_active
        if not is_active:
            # Blocked accounts' tags answer Blocked at once (see id_tags); their tokens end here.
            await end_all_sessions(session, target.id, now=now)
    await session.commit()
    return target


async def reset_password(
    session: AsyncSession, *, actor: Principal, user_id: int, password: str, now: datetime
) -> User:
    """An operator sets a new password: admins for users, root for anyone. Every session of the account ends."""
    target = await managed_user(session, actor=actor, user_id=user_id)
    if target.role != "user" and actor.role != "root":
        raise PermissionDenied("only root may reset the password of an admin or root account")
    await set_password(session, target, password, now=now)
    return target


async def _change_role(session: AsyncSession, *, actor: Principal, target: User, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if actor.role != "root":
        raise PermissionDenied("only root may change roles")
    if target.role == "root" and await _root_count(session) <= 1:
        raise Conflict("this is the last root account; make another root first")
    target.role = role


async def delete_user(session: AsyncSession, *, actor: Principal, user_id: int) -> None:
    """Delete an account. Its charging records stay, no longer linked to anyone (anonymised)."""
    target = await managed_user(session, actor=actor, user_id=user_id)
    if target.id == actor.id:
        raise Conflict("you cannot delete your own account")
    if target.role == "root" and await _root_count(session) <= 1:
        raise Conflict("this is the last root account; make another root first")
    await session.execute(
        update(Transaction).where(Transaction.user_id == target.id).values(user_id=None, vehicle_id=None)
    )
    await session.execute(delete(IdTag).where(IdTag.user_id == target.id))
    await session.delete(target)
    await session.commit()


async def _root_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(User.id)).where(User.role == "root")) or 0)
