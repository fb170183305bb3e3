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

from sqlalchemy import Update, bindparam, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from csms.db.database_time import database_now, database_now_plus
from csms.db.models import Charger, ChargerConnection

_newer = aliased(ChargerConnection, name="newer")


@dataclass(frozen=True, slots=True)
class HeldConnection:
    """One of this node's rows after a renewal; `is_superseded` when a newer socket owns its charger."""

    charge_point_id: str
    connection_id: str
    sequence: int
    is_superseded: bool


@dataclass(frozen=True, slots=True)
class NewConnection:
    charge_point_id: str
    node_id: str
    connection_id: str
    connected_at: datetime


async def claim(connection: AsyncConnection, new: list[NewConnection], *, lease: float) -> list[int]:
    """Record new sockets (one statement for all); their sequences in order, higher than any before."""
    statement = (
        insert(ChargerConnection)
        .values(lease_until=database_now_plus(lease))
        .returning(ChargerConnection.sequence, sort_by_parameter_order=True)
    )
    rows = [
        {
            "charge_point_id": socket.charge_point_id,
            "node_id": socket.node_id,
            "connection_id": socket.connection_id,
            "connected_at": socket.connected_at,
        }
        for socket in new
    ]
    sequences = [int(sequence) for sequence in (await connection.scalars(statement, rows)).all()]
    await _record_times(connection, _CONNECTED_AT, {socket.charge_point_id: socket.connected_at for socket in new})
    return sequences


async def release(connection: AsyncConnection, gone: list[tuple[str, str]], *, now: datetime) -> set[str]:
    """Forget these (charge point id, connection id) sockets' rows; the chargers left with no live one."""
    connection_ids = [connection_id for _charge_point_id, connection_id in gone]
    await connection.execute(delete(ChargerConnection).where(ChargerConnection.connection_id.in_(connection_ids)))
    charge_point_ids = {charge_point_id for charge_point_id, _connection_id in gone}
    offline = charge_point_ids - await _still_connected(connection, charge_point_ids)
    await _record_times(connection, _DISCONNECTED_AT, dict.fromkeys(offline, now))
    return offline


# When the charger last connected and went offline, for the admin view: written with its presence, so
# a reader never sees it connected with an older connect time, or offline without a disconnect time.
_CONNECTED_AT = (
    update(Charger)
    .where(Charger.charge_point_id == bindparam("cp"))
    .values(connected_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)
_DISCONNECTED_AT = (
    update(Charger)
    .where(Charger.charge_point_id == bindparam("cp"))
    .values(disconnected_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)


async def _record_times(connection: AsyncConnection, statement: Update, times: dict[str, datetime]) -> None:
    # In the order of the ids: two nodes' transactions lock chargers' rows in one order, never crosswise.
    if times:
        await connection.execute(statement, [{"cp": cp, "at": times[cp]} for cp in sorted(times)])


async def _still_connected(connection: AsyncConnection, charge_point_ids: set[str]) -> set[str]:
    query = select(ChargerConnection.charge_point_id).where(
        ChargerConnection.charge_point_id.in_(charge_point_ids), ChargerConnection.lease_until > database_now()
    )
    return set((await connection.scalars(query)).all())


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


async def sweep_expired(connection: AsyncConnection, *, now: datetime) -> list[str]:
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
    offline = swept - await _still_connected(connection, swept) if swept else set()
    await _record_times(connection, _DISCONNECTED_AT, dict.fromkeys(offline, now))
    return sorted(offline)
