"""Remote charging from the app: what may be started or stopped, and with which idTag."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, Connector, Transaction
from csms.domain.connectors import ConnectorState
from csms.services import connector_use
from csms.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from csms.services.id_tags import ACCEPTED
from csms.services.login_cache import Principal

STAFF_ROLES = ("admin", "root")


@dataclass(frozen=True, slots=True)
class RemoteStart:
    charge_point_id: str
    connector_id: int
    id_tag: str
    user_id: int


class ConnectedCharger(Protocol):
    """A charger connected to this node: it exists (it authenticated against its row, and chargers are
    never deleted), knows which connectors a start may name and what each reported on this connection."""

    async def known_connectors(self) -> Collection[int]: ...

    def connector_state(self, connector_id: int) -> ConnectorState | None: ...


@dataclass(frozen=True, slots=True)
class RemoteStop:
    charge_point_id: str
    transaction_id: int
    transaction_key: str | None  # the charger's own id of it (2.x); None for 1.6


async def plan_remote_start(
    open_session: Callable[[], AsyncSession],
    *,
    user: Principal,
    charge_point_id: str,
    connector_id: int,
    connected: ConnectedCharger | None = None,
) -> RemoteStart:
    """Check the charger and connector (known, and free to start on: else Conflict) and pick the user's idTag.

    `connected` is the charger's connection to this node, if it has one: then no database read is
    needed for a connector whose status came on this connection and is neither in use nor plugged in.
    """
    if not user.is_active:
        raise PermissionDenied("this account is blocked")
    if user.app_id_tag is None:
        raise InvalidInput("this account has no idTag to charge with")
    refusal = await _refusal(
        open_session, user_id=user.id, charge_point_id=charge_point_id, connector_id=connector_id, connected=connected
    )
    if refusal is not None:
        raise Conflict(refusal)
    return RemoteStart(charge_point_id, connector_id, user.app_id_tag, user.id)


async def _refusal(
    open_session: Callable[[], AsyncSession],
    *,
    user_id: int,
    charge_point_id: str,
    connector_id: int,
    connected: ConnectedCharger | None,
) -> str | None:
    state = None
    if connected is not None:
        check_connector(charge_point_id, connector_id, await connected.known_connectors())
        state = connected.connector_state(connector_id)
    if state is not None and not connector_use.needs_last_session(state):
        return connector_use.start_refusal(
            state, None, user_id=user_id, charge_point_id=charge_point_id, connector_id=connector_id
        )
    async with open_session() as session:
        if connected is None:
            if await session.get(Charger, charge_point_id) is None:
                raise NotFound(f"unknown charger {charge_point_id}")
            await require_known_connector(session, charge_point_id, connector_id)
        return await start_refusal(
            session, user_id=user_id, charge_point_id=charge_point_id, connector_id=connector_id, state=state
        )


async def start_refusal(
    session: AsyncSession, *, user_id: int, charge_point_id: str, connector_id: int, state: ConnectorState | None
) -> str | None:
    """Why the user cannot start on this connector now, or None; `state` None: read the stored status."""
    if state is None:
        stored = await session.get(Connector, (charge_point_id, connector_id))
        state = ConnectorState(stored.status, stored.status_at) if stored is not None else None
    last = None
    if connector_use.needs_last_session(state):
        last = await connector_use.last_session(session, charge_point_id, connector_id)
    return connector_use.start_refusal(
        state, last, user_id=user_id, charge_point_id=charge_point_id, connector_id=connector_id
    )


def check_connector(charge_point_id: str, connector_id: int, known: Collection[int]) -> None:
    """A connector must be one the charger reported, once it has reported any (connector 0 is the charger)."""
    if connector_id < 1:
        raise InvalidInput("connector_id must be 1 or more")
    if known and connector_id not in known:
        listed = ", ".join(str(number) for number in sorted(known))
        raise InvalidInput(f"charger {charge_point_id} has no connector {connector_id} (it has {listed})")


async def require_known_connector(session: AsyncSession, charge_point_id: str, connector_id: int) -> None:
    check_connector(charge_point_id, connector_id, await stored_connectors(session, charge_point_id))


async def stored_connectors(session: AsyncSession, charge_point_id: str) -> frozenset[int]:
    """The connectors (1 and up) csms has a status of for this charger."""
    query = select(Connector.connector_id).where(
        Connector.charge_point_id == charge_point_id, Connector.connector_id > 0
    )
    return frozenset((await session.scalars(query)).all())


async def plan_remote_stop(session: AsyncSession, *, user: Principal, transaction_id: int) -> RemoteStop:
    """A user may stop their own transactions; admins any. Others' transactions look unknown."""
    transaction = await session.get(Transaction, transaction_id)
    may_see = transaction is not None and (user.role in STAFF_ROLES or transaction.user_id == user.id)
    if transaction is None or not may_see:
        raise NotFound(f"transaction {transaction_id} not found")
    if transaction.stop_timestamp is not None:
        raise Conflict(f"transaction {transaction_id} has already stopped")
    if transaction.id_tag_status != ACCEPTED:
        raise Conflict(
            f"transaction {transaction_id} is not charging: its start was answered {transaction.id_tag_status}"
            " (staff can close it)"
        )
    return RemoteStop(transaction.charge_point_id, transaction.id, transaction.transaction_key)
