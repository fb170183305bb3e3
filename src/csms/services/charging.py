"""Remote charging from the app: what may be started or stopped, and with which idTag."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, Connector, Transaction, User
from csms.services.accounts import app_id_tag
from csms.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied

STAFF_ROLES = ("admin", "root")


@dataclass(frozen=True, slots=True)
class RemoteStart:
    charge_point_id: str
    connector_id: int
    id_tag: str


@dataclass(frozen=True, slots=True)
class RemoteStop:
    charge_point_id: str
    transaction_id: int


async def plan_remote_start(
    session: AsyncSession, *, user: User, charge_point_id: str, connector_id: int
) -> RemoteStart:
    """Check that the charger and connector exist and pick the user's idTag."""
    if not user.is_active:
        raise PermissionDenied("this account is blocked")
    if await session.get(Charger, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    await require_known_connector(session, charge_point_id, connector_id)
    return RemoteStart(charge_point_id, connector_id, await app_id_tag(session, user.id))


async def require_known_connector(session: AsyncSession, charge_point_id: str, connector_id: int) -> None:
    """A connector must be one the charger reported, once it has reported any (connector 0 is the charger)."""
    if connector_id < 1:
        raise InvalidInput("connector_id must be 1 or more")
    known = set(
        (
            await session.scalars(
                select(Connector.connector_id).where(
                    Connector.charge_point_id == charge_point_id, Connector.connector_id > 0
                )
            )
        ).all()
    )
    if known and connector_id not in known:
        listed = ", ".join(str(number) for number in sorted(known))
        raise InvalidInput(f"charger {charge_point_id} has no connector {connector_id} (it has {listed})")


async def plan_remote_stop(session: AsyncSession, *, user: User, transaction_id: int) -> RemoteStop:
    """A user may stop their own transactions; admins any. Others' transactions look unknown."""
    transaction = await session.get(Transaction, transaction_id)
    may_see = transaction is not None and (user.role in STAFF_ROLES or transaction.user_id == user.id)
    if transaction is None or not may_see:
        raise NotFound(f"transaction {transaction_id} not found")
    if transaction.stop_timestamp is not None:
        raise Conflict(f"transaction {transaction_id} has already stopped")
    return RemoteStop(transaction.charge_point_id, transaction.id)
