"""Whether a connector can take a new charging session, from its status and its last session.

The app asks before it offers Start, and a start asks again before csms sends the charger a command, so
a driver hears at once that a connector is out of order or taken rather than waiting for a session that
never comes. Statuses are 1.6's ChargePointStatus and 2.x's ConnectorStatusEnumType.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Transaction
from csms.domain.connectors import ConnectorState
from csms.services.id_tags import ACCEPTED

_OUT_OF_ORDER = {"Faulted": "is out of order (Faulted)", "Unavailable": "is unavailable"}
_CHARGING = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
# A car is plugged in: after its session (1.6 Finishing) or before or after one (2.x Occupied). Taken only
# while the car of someone else's last session is still there.
_PLUGGED_IN = frozenset({"Finishing", "Occupied"})


@dataclass(frozen=True, slots=True)
class LastSession:
    user_id: int | None
    is_active: bool
    stopped_at: datetime | None


def needs_last_session(state: ConnectorState | None) -> bool:
    """Only a connector in use needs its last session read: Available and Preparing ones never do."""
    return state is not None and (state.status in _CHARGING or state.status in _PLUGGED_IN)


async def last_session(session: AsyncSession, charge_point_id: str, connector_id: int) -> LastSession | None:
    """The newest accepted session on the connector, running or not."""
    query = (
        select(Transaction.user_id, Transaction.stop_timestamp)
        .where(
            Transaction.charge_point_id == charge_point_id,
            Transaction.connector_id == connector_id,
            Transaction.id_tag_status == ACCEPTED,
        )
        .order_by(Transaction.start_timestamp.desc(), Transaction.id.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return LastSession(user_id=row.user_id, is_active=row.stop_timestamp is None, stopped_at=row.stop_timestamp)


def start_refusal(
    state: ConnectorState | None, last: LastSession | None, *, user_id: int, charge_point_id: str, connector_id: int
) -> str | None:
    """Why a new session cannot start on this connector now (a sentence for the driver); None: it may."""
    where = f"connector {connector_id} of {charge_point_id}"
    if state is not None and state.status in _OUT_OF_ORDER:
        return f"{where} {_OUT_OF_ORDER[state.status]}"
    is_own = last is not None and last.user_id == user_id
    if last is not None and last.is_active and (state is None or state.status != "Available"):
        return f"you are already charging on {where}" if is_own else f"{where} is in use by another driver"
    if state is None:
        return None
    if state.status in _CHARGING:
        return f"{where} is in use ({state.status})"
    if state.status in _PLUGGED_IN and last is not None and not is_own and _car_still_there(state, last):
        return f"{where} is in use: another driver's car is still plugged in"
    return None


def _car_still_there(state: ConnectorState, last: LastSession) -> bool:
    # 1.6 Finishing follows a session; a 2.x Occupied reported before the session ended is that car's.
    return state.status == "Finishing" or (last.stopped_at is not None and state.since <= last.stopped_at)
