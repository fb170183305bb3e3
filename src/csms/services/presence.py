"""Which node holds each charger's socket, kept in the database under leases in the database's time.

Each socket has a row (`charger_connections`): a connect inserts it and gets a sequence from the
database, a disconnect deletes only its own row, and the node holding it renews the lease of all
its rows in one statement. The rules every node applies to the same rows:

- a charger is connected while it has a row whose lease has not run out;
- of a charger's rows the one with the highest sequence owns it: commands go to that socket, and
  a node holding an older one closes it;
- a row past its lease belongs to a node that stopped (SIGKILL, a lost host): any node deletes it,
  and the one whose delete took the charger's last row announces the charger offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from csms.db.database_time import database_now, database_now_plus
from csms.db.models import ChargerConnection

_newer = aliased(ChargerConnection, name="newer")


@dataclass(frozen=True, slots=True)
class HeldConnection:
    """One of this node's rows after a renewal; `is_superseded` when a newer socket owns its charger."""

    charge_point_id: str
    connection_id: str
    sequence: int
    is_superseded: bool


async def claim(
    connection: AsyncConnection,
    *,
    charge_point_id: str,
    node_id: str,
    connection_id: str,
    lease: float,
    now: datetime,
) -> int:
    """Record a new socket of the charger on this node; its sequence, higher than any before."""
    statement = (
        insert(ChargerConnection)
        .values(
            charge_point_id=charge_point_id,
            node_id=node_id,
            connection_id=connection_id,
            connected_at=now,
            lease_until=database_now_plus(lease),
        )
        .returning(ChargerConnection.sequence)
    )
    return int((await connection.execute(statement)).scalar_one())


async def release(connection: AsyncConnection, *, charge_point_id: str, connection_id: str) -> bool:
    """Forget this socket's row; True when it was the charger's last live one (the charger is offline)."""
    await connection.execute(delete(ChargerConnection).where(ChargerConnection.connection_id == connection_id))
    return not await is_connected(connection, charge_point_id)


async def is_connected(connection: AsyncConnection, charge_point_id: str) -> bool:
    live = exists().where(
        ChargerConnection.charge_point_id == charge_point_id, ChargerConnection.lease_until > database_now()
    )
    return bool(await connection.scalar(select(live)))


async def owner(connection: AsyncConnection, charge_point_id: str) -> str | None:
    """The connection id of the socket that owns the charger, or None when it is connected nowhere."""
    query = (
        select(ChargerConnection.connection_id)
        .where(ChargerConnection.charge_point_id == charge_point_id, ChargerConnection.lease_until > database_now())
        .order_by(ChargerConnection.sequence.desc())
        .limit(1)
    )
    return await connection.scalar(query)


async def renew(connection: AsyncConnection, *, node_id: str, lease: float) -> list[HeldConnection]:
    """Extend the lease of every row of this node; the rows, each with whether a newer socket owns it."""
    await connection.execute(
        update(ChargerConnection)
        .where(ChargerConnection.node_id == node_id)
        .values(lease_until=database_now_plus(lease))
        .execution_options(synchronize_session=False)
    )
    superseded = (
        exists()
        .where(
            _newer.charge_point_id == ChargerConnection.charge_point_id,
            _newer.sequence > ChargerConnection.sequence,
            _newer.lease_until > database_now(),
        )
        .correlate(ChargerConnection)
    )
    query = select(
        ChargerConnection.charge_point_id, ChargerConnection.connection_id, ChargerConnection.sequence, superseded
    ).where(ChargerConnection.node_id == node_id)
    return [HeldConnection(*row) for row in (await connection.execute(query)).all()]


async def sweep_expired(connection: AsyncConnection) -> list[str]:
    """Delete every row past its lease; the chargers this left with no live row (now offline).

    Two nodes sweeping at once each get the rows they deleted themselves, so each charger is
    announced offline by one node.
    """
    expired = (
        delete(ChargerConnection)
        .where(ChargerConnection.lease_until <= database_now())
        .returning(ChargerConnection.charge_point_id)
    )
    swept = set((await connection.scalars(expired)).all())
    return [charge_point_id for charge_point_id in sorted(swept) if not await is_connected(connection, charge_point_id)]
