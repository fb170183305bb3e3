"""Presence of this node's sockets in the database, and the one rule that picks a charger's owner.

On connect a socket gets a row and a sequence from the database (services/presence.py) and is
announced on the bus with it; a node holding an older socket of the same charger closes its own at
once. Every `lease / 3` seconds the node renews its rows' leases, which also reconciles with the
database whatever the bus lost: a socket a newer one superseded is closed, and a socket whose row
another node swept (this node lost the database for a whole lease) is closed, so the charger
reconnects and is recorded again. The same tick deletes rows past their lease (a node that died)
and announces those chargers offline. A node sweeps only after the database answered it for a whole
lease: after an outage every node gets a lease's time to renew before anyone's rows are swept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from csms.bus.events import Events
from csms.db.batch_writer import DATABASE_UNREACHABLE, BatchWriter
from csms.ocpp.registry import ConnectionRegistry
from csms.ocpp.takeover import CLOSE_REPLACED, TakeoverWatcher
from csms.services import chargers, presence
from csms.services.session_watch import SessionWatch

if TYPE_CHECKING:
    from csms.ocpp.charge_point import ChargePointSession

logger = logging.getLogger(__name__)

CLOSE_PRESENCE_LOST = 4001  # this node lost the database for a lease and another node declared the charger offline

Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class PresenceKeeper:
    def __init__(
        self,
        *,
        node_id: str,
        lease: float,
        transaction: Transaction,
        registry: ConnectionRegistry,
        takeover: TakeoverWatcher,
        writer: BatchWriter,
        events: Events,
        session_watch: SessionWatch,
        clock: Callable[[], datetime],
    ) -> None:
        self._node_id = node_id
        self.lease = lease
        self._transaction = transaction
        self._registry = registry
        self._takeover = takeover
        self._writer = writer
        self._events = events
        self._session_watch = session_watch
        self._clock = clock
        # Sockets whose row could not be written (the database was away): claimed at the next tick.
        self._unclaimed: set[ChargePointSession] = set()
        # Rows being deleted right now: not orphans for the tick to delete a second time.
        self._releasing: set[str] = set()
        # Since when (time.monotonic) the database has answered every tick; None after a failure.
        self._reachable_since: float | None = None
        self._wake = asyncio.Event()

    async def connected(self, session: ChargePointSession) -> None:
        """Record a new socket (one transaction), announce it, and close it if a newer one already owns."""
        try:
            async with self._transaction() as connection:
                sequence = await presence.claim(
                    connection,
                    charge_point_id=session.id,
                    node_id=self._node_id,
                    connection_id=session.connection_id,
                    lease=self.lease,
                    now=self._clock(),
                )
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not record charger %s as connected (%s)", session.id, type(error).__name__)
            self._unclaimed.add(session)
            return
        await self._claimed(session, sequence)

    async def _claimed(self, session: ChargePointSession, sequence: int) -> None:
        session.sequence = sequence
        await self._takeover.announce(session.id, session.connection_id, sequence)
        if session.rival_sequence > sequence:  # a newer socket was announced while this one was recorded
            await session.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
            return
        await chargers.mark_connected(self._writer, session.id, now=self._clock())
        await self._events.publish("charger_connected", charge_point_id=session.id, connection_sequence=sequence)
        logger.info("charger %s connected", session.id)

    async def disconnected(self, session: ChargePointSession) -> None:
        """Delete this socket's row; announce the charger offline if it was its last live one."""
        self._unclaimed.discard(session)
        if session.sequence is None:
            return  # never recorded, so nothing to undo (a tick will delete a row written meanwhile)
        self._releasing.add(session.connection_id)
        try:
            async with self._transaction() as connection:
                is_offline = await presence.release(
                    connection, charge_point_id=session.id, connection_id=session.connection_id
                )
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not record charger %s as disconnected (%s)", session.id, type(error).__name__)
            return  # its lease runs out, and a node sweeping it announces the charger offline
        finally:
            self._releasing.discard(session.connection_id)
        if is_offline:
            await self._went_offline(session.id, connection_sequence=session.sequence)

    async def _went_offline(self, charge_point_id: str, *, connection_sequence: int | None) -> None:
        await chargers.mark_disconnected(self._writer, charge_point_id, now=self._clock())
        await self._events.publish(
            "charger_disconnected", charge_point_id=charge_point_id, connection_sequence=connection_sequence
        )
        self._session_watch.charger_disconnected(charge_point_id)
        logger.info("charger %s disconnected", charge_point_id)

    # -- the periodic tick -----------------------------------------------------------------

    def reconcile_soon(self) -> None:
        """Run the next tick now (the bus reconnected: announcements may have been lost meanwhile)."""
        self._wake.set()

    async def run(self) -> None:
        interval = self.lease / 3
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                await self.tick()
            except DATABASE_UNREACHABLE as error:
                self._reachable_since = None
                logger.warning("could not renew chargers' presence (%s)", type(error).__name__)
            except Exception:  # the loop outlives any one tick: without it every lease of this node runs out
                self._reachable_since = None
                logger.exception("could not renew chargers' presence")

    async def tick(self) -> None:
        """Renew this node's leases and reconcile its sockets with the rows; then sweep dead nodes' rows."""
        for session in list(self._unclaimed):
            self._unclaimed.discard(session)
            if self._registry.get(session.id) is session:
                await self.connected(session)
        recorded = {session.connection_id: session for session in self._registry.all() if session.sequence}
        async with self._transaction() as connection:
            rows = await presence.renew(connection, node_id=self._node_id, lease=self.lease)
        if self._reachable_since is None:
            self._reachable_since = time.monotonic()
        await self._reconcile(recorded, rows)
        if time.monotonic() - self._reachable_since >= self.lease:
            await self._sweep()

    async def _reconcile(self, recorded: dict[str, ChargePointSession], rows: list[presence.HeldConnection]) -> None:
        held = {row.connection_id: row for row in rows}
        for connection_id, session in recorded.items():
            row = held.get(connection_id)
            if row is None:
                logger.warning("charger %s was declared offline while this node lost the database", session.id)
                await session.close(code=CLOSE_PRESENCE_LOST, reason="connection lost its lease; reconnect")
            elif row.is_superseded:
                logger.info("charger %s has a newer connection on another node; closing it here", session.id)
                await session.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
        live = {session.connection_id for session in self._registry.all()}
        for row in rows:
            if row.connection_id not in live and row.connection_id not in self._releasing:
                await self._release_orphan(row)

    async def _release_orphan(self, row: presence.HeldConnection) -> None:
        """A row of this node without its socket (its delete failed while the database was away)."""
        async with self._transaction() as connection:
            is_offline = await presence.release(
                connection, charge_point_id=row.charge_point_id, connection_id=row.connection_id
            )
        if is_offline:
            await self._went_offline(row.charge_point_id, connection_sequence=row.sequence)

    async def _sweep(self) -> None:
        async with self._transaction() as connection:
            offline = await presence.sweep_expired(connection)
        for charge_point_id in offline:
            logger.warning("charger %s went offline with the node that held it", charge_point_id)
            await self._went_offline(charge_point_id, connection_sequence=None)
