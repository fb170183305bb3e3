"""Roaming charges' Sessions and CDRs to the eMSPs whose tokens started them (the SENDER pushes of §9 and §10).

The session watch (services/session_watch.py) calls the hooks of `RoamingSessionFeed`, which return at once: each
queues its requests in the outbox (services/ocpi_outbox.py) in the background, and the pusher (ocpi/push.py)
delivers them with retries, also after a restart. A charge's Session is PUT at its start, PATCHed on meter values
at most every CSMS_OCPI_SESSION_UPDATE_INTERVAL seconds, PATCHed COMPLETED at its stop once csms froze its cost,
and its CDR POSTed then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.config import Settings
from csms.db.batch_writer import DATABASE_ERRORS
from csms.db.models import OcpiParty
from csms.ocpi.cdrs import cdr_object
from csms.ocpi.identity import IdentityMissing, OwnParty, own_party
from csms.ocpi.sessions import session_object, session_update
from csms.services import ocpi_outbox, ocpi_parties, ocpi_sessions
from csms.services.background import BackgroundTasks

logger = logging.getLogger(__name__)


class RoamingSessionFeed:
    """What the session watch tells of roaming charges (services/session_watch.py); every hook returns at once."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        background: BackgroundTasks,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._settings = settings
        self._background = background
        self._clock = clock
        self._wake = wake
        self._monotonic = monotonic
        # Queued in the order the charger reported: a start's PUT before its PATCHes, those before the CDR.
        self._order = asyncio.Lock()
        # Per transaction followed on this node: whether it is roaming (read once), when its last PATCH was queued.
        self._roaming: dict[int, bool] = {}
        self._patched_at: dict[int, float] = {}

    def started(self, transaction_id: int) -> None:
        self._spawn(self._push_session(transaction_id, "PUT"), name=f"ocpi-session-{transaction_id}")

    def metered(self, transaction_id: int) -> None:
        if self._roaming.get(transaction_id) is False:
            return
        last = self._patched_at.get(transaction_id)
        now = self._monotonic()
        if last is not None and now - last < self._settings.ocpi_session_update_interval:
            return
        self._patched_at[transaction_id] = now
        self._spawn(self._push_session(transaction_id, "PATCH"), name=f"ocpi-session-{transaction_id}")

    def finished(self, transaction_id: int) -> None:
        """Its cost is frozen: the Session COMPLETED and the CDR."""
        self._patched_at.pop(transaction_id, None)
        self._spawn(self._push_session(transaction_id, "PATCH", cdr=True), name=f"ocpi-cdr-{transaction_id}")

    async def sweep(self, *, stopped_before: datetime) -> int:
        """Queue the CDRs of roaming charges that stopped before `stopped_before` and have none queued: a node
        that stopped between a charge's stop and queueing its CDR left them so. The number queued."""
        async with self._session_factory() as session:
            waiting = await ocpi_sessions.charges_without_cdr(session, stopped_before=stopped_before)
        for transaction_id in waiting:
            await self._push_session(transaction_id, "PUT", cdr=True)
        return len(waiting)

    async def sweep_periodically(self, interval: float) -> None:
        """`sweep` at start and every `interval` seconds, for charges stopped more than `interval` ago (the
        stop's own path queues a CDR within moments)."""
        while True:
            try:
                queued = await self.sweep(stopped_before=self._clock() - timedelta(seconds=interval))
                if queued:
                    logger.warning("queued %d CDRs that a stopped node had left unqueued", queued)
            except DATABASE_ERRORS:
                logger.warning("the sweep for unqueued CDRs could not run; trying again", exc_info=True)
            await asyncio.sleep(interval)

    def _spawn(self, work: Any, *, name: str) -> None:
        self._background.spawn(self._guarded(work), name=name)

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except DATABASE_ERRORS:
            logger.warning("an OCPI session push could not be queued", exc_info=True)

    def _own(self) -> OwnParty | None:
        try:
            return own_party(self._settings)
        except IdentityMissing:
            return None

    async def _push_session(self, transaction_id: int, method: str, *, cdr: bool = False) -> None:
        own = self._own()
        if own is None:
            return
        async with self._order, self._session_factory() as session:
            party_key = await ocpi_sessions.party_of(session, transaction_id)
            if transaction_id not in self._roaming:
                # The first this node tells of the charge (a 2.x token presented after the start, a node that
                # took over the charger or restarted): the whole Session, which the eMSP may not have yet.
                method = "PUT"
            if cdr:
                self._roaming.pop(transaction_id, None)
            else:
                self._roaming[transaction_id] = party_key is not None
            if party_key is None:
                return
            if cdr and not await ocpi_sessions.claim_cdr(session, transaction_id, now=self._clock()):
                return  # queued already (the sweep and the stop on two nodes, or twice here)
            party = await session.get(OcpiParty, party_key)
            charge = await ocpi_sessions.roaming_charge(session, transaction_id, now=self._clock())
            if party is None or charge is None or party.state == ocpi_parties.UNREGISTERED:
                await session.commit()  # nothing to send it to: the claim stands, so no sweep tries again
                return
            sessions_url = ocpi_parties.endpoint_url(party, "sessions", "RECEIVER")
            if sessions_url:
                url = f"{sessions_url.rstrip('/')}/{own.country_code}/{own.party_id}/{transaction_id}"
                body = session_object(own, charge) if method == "PUT" else session_update(own, charge)
                await ocpi_outbox.enqueue(session, party.id, method, url, body)
            cdrs_url = ocpi_parties.endpoint_url(party, "cdrs", "RECEIVER")
            if cdr and cdrs_url:
                # Every CDR goes to the one cdrs URL: none supersedes another.
                await ocpi_outbox.enqueue(session, party.id, "POST", cdrs_url, cdr_object(own, charge), supersede=False)
            await session.commit()
        self._wake()
