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
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from csms.bus.events import Events
from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.ocpp.registry import ConnectionRegistry
from csms.ocpp.takeover import CLOSE_REPLACED, TakeoverWatcher
from csms.services import presence
from csms.services.session_watch import SessionWatch

if TYPE_CHECKING:
    from csms.ocpp.rpc import RpcSession

logger = logging.getLogger(__name__)

CLOSE_PRESENCE_LOST = 4001  # this node lost the database for a lease and another node declared the charger offline

Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
Item = TypeVar("Item")
Result = TypeVar("Result")


class PresenceKeeper:
    def __init__(
        self,
        *,
        node_id: str,
        lease: float,
        transaction: Transaction,
        registry: ConnectionRegistry,
        takeover: TakeoverWatcher,
        events: Events,
        session_watch: SessionWatch,
        clock: Callable[[], datetime],
    ) -> None:
        self._node_id = node_id
        self.lease = lease
        self._transaction = transaction
        self._registry = registry
        self._takeover = takeover
        self._events = events
        self._session_watch = session_watch
        self._clock = clock
        # Sockets whose row could not be written (the database was away): claimed at the next tick.
        self._unclaimed: set[RpcSession] = set()
        # Rows being deleted right now: not orphans for the tick to delete a second time.
        self._releasing: set[str] = set()
        # Since when (time.monotonic) the database has answered every tick; None after a failure.
        self._reachable_since: float | None = None
        self._wake = asyncio.Event()
        # A reconnecting fleet's connects and disconnects share transactions, as the group commit does.
        self._claim = _Coalesced(self._claim_batch)
        self._release = _Coalesced(self._release_batch)

    async def _claim_batch(self, new: list[presence.NewConnection]) -> list[int]:
        async with self._transaction() as connection:
            return await presence.claim(connection, new, lease=self.lease)

    async def _release_batch(self, gone: list[tuple[str, str]]) -> list[bool]:
        """Whether each socket was its charger's last live one."""
        async with self._transaction() as connection:
            offline = await presence.release(connection, gone, now=self._clock())
        announced: list[bool] = []
        for charge_point_id, _connection_id in gone:  # two sockets of one charger: offline is told once
            announced.append(charge_point_id in offline)
            offline.discard(charge_point_id)
        return announced

    async def connected(self, session: RpcSession) -> None:
        """Record a new socket (one transaction), announce it, and close it if a newer one already owns."""
        new = presence.NewConnection(session.id, self._node_id, session.connection_id, self._clock())
        try:
            sequence = await self._claim(new)
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not record charger %s as connected (%s)", session.id, type(error).__name__)
            self._unclaimed.add(session)
            return
        await self._claimed(session, sequence)

    async def _claimed(self, session: RpcSession, sequence: int) -> None:
        session.sequence = sequence
        await self._takeover.announce(session.id, session.connection_id, sequence)
        if session.rival_sequence > sequence:  # a newer socket was announced while this one was recorded
            await session.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
            return
        await self._events.publish("charger_connected", charge_point_id=session.id, connection_sequence=sequence)
        logger.info("charger %s connected", session.id)

    async def disconnected(self, session: RpcSession) -> None:
        """Delete this socket's row; announce the charger offline if it was its last live one."""
        self._unclaimed.discard(session)
        if session.sequence is None:
            return  # never recorded, so nothing to undo (a tick will delete a row written meanwhile)
        self._releasing.add(session.connection_id)
        try:
            is_offline = await self._release((session.id, session.connection_id))
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not record charger %s as disconnected (%s)", session.id, type(error).__name__)
            return  # its lease runs out, and a node sweeping it announces the charger offline
        finally:
            self._releasing.discard(session.connection_id)
        if is_offline:
            await self._went_offline(session.id, connection_sequence=session.sequence)

    async def _went_offline(self, charge_point_id: str, *, connection_sequence: int | None) -> None:
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

    async def _reconcile(self, recorded: dict[str, RpcSession], rows: list[presence.HeldConnection]) -> None:
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
        if await self._release((row.charge_point_id, row.connection_id)):
            await self._went_offline(row.charge_point_id, connection_sequence=row.sequence)

    async def _sweep(self) -> None:
        async with self._transaction() as connection:
            offline = await presence.sweep_expired(connection, now=self._clock())
        for charge_point_id in offline:
            logger.warning("charger %s went offline with the node that held it", charge_point_id)
            await self._went_offline(charge_point_id, connection_sequence=None)


class _Coalesced(Generic[Item, Result]):
    """One call per item for the caller, one batch for the database: items that arrive while a batch
    is written go together in the next. A failed batch fails each of its callers with its error."""

    def __init__(self, run: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._run = run
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Result:
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, answer))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(), name="presence-batch")
        return await answer

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                waiting = [(item, answer) for item, answer in batch if not answer.done()]  # not cancelled
                if not waiting:
                    continue
                try:
                    results = await self._run([item for item, _answer in waiting])
                except Exception as error:  # handed to every caller, who decides what it means
                    for _item, answer in waiting:
                        if not answer.done():
                            answer.set_exception(error)
                    continue
                for (_item, answer), result in zip(waiting, results, strict=True):
                    if not answer.done():
                        answer.set_result(result)
        finally:
            self._draining = None
