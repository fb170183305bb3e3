"""csms pushes what it publishes to every registered party that receives it (the SENDER side of §8 and §11):
an EVSE's status as a PATCH when its charger reports a change or goes offline, a Location as a PUT when an
operator changes it (or a tariff assignment changes the tariffs its connectors name), a Tariff as a PUT when one
is created.

Pushes are queued in the outbox (services/ocpi_outbox.py) and sent by `run` in the background: the OCPP answer
that caused one never waits on a party. A party that is away gets the push again after a backoff, up to
CSMS_OCPI_PUSH_MAX_ATTEMPTS times; one node's round sends a party's pushes in order, and stops at its first
failure so that a later push does not overtake an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.config import Settings
from csms.db.batch_writer import DATABASE_ERRORS
from csms.db.models import OcpiLocation, OcpiParty, Tariff
from csms.ocpi.client import OcpiClient, PeerError, PeerRefused
from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.identity import IdentityMissing, OwnParty, own_party
from csms.ocpi.location_objects import UNKNOWN, evse_uid, location_object, ocpi_status
from csms.ocpi.routing import PartyRef
from csms.ocpi.tariff_objects import tariff_object
from csms.services import ocpi_locations, ocpi_outbox, ocpi_parties
from csms.services.background import BackgroundTasks

logger = logging.getLogger(__name__)

_BATCH = 100
# Per published location, the tariff ids each EVSE's connector names now, by (charger, connector).
TariffsInForce = dict[int, dict[tuple[str, int], tuple[str, ...]]]
# How long a claim outlasts one request's timeout before another node may send the push again.
_CLAIM_MARGIN = 30.0


class OcpiPusher:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: OcpiClient,
        settings: Settings,
        *,
        background: BackgroundTasks,
        clock: Callable[[], datetime],
    ) -> None:
        self._session_factory = session_factory
        self._client = client
        self._settings = settings
        self._background = background
        self._clock = clock
        self._wake = asyncio.Event()
        # Status pushes are queued in the order the charger reported them: a newer push supersedes an older one.
        self._status_order = asyncio.Lock()
        # The tariffs in force on the published connectors at the last look (follow_assignment_windows), which an
        # operator's change moves on too: what it pushed is not pushed again by the next look.
        self._tariffs_seen: TariffsInForce | None = None

    def wake(self) -> None:
        """Something was queued in the outbox (by another module): send it now."""
        self._wake.set()

    # -- what changed (the hooks return at once) -------------------------------------------------------------

    def evse_status(self, charge_point_id: str, connector_id: int, status: str) -> None:
        """A charger reported a connector's (1.6) or EVSE's (2.x) status."""
        status_now = ocpi_status(status, is_connected=True)
        self._spawn(self._push_statuses(charge_point_id, {connector_id: status_now}), name="ocpi-evse-status")

    def charger_offline(self, charge_point_id: str) -> None:
        """Its socket closed: its EVSEs' status is UNKNOWN until it reports again."""
        self._spawn(self._push_statuses(charge_point_id, None), name="ocpi-charger-offline")

    async def location_changed(self, location_id: int) -> None:
        """An operator changed the location (or its chargers, or their connectors): PUT it whole."""
        async with self._session_factory() as session:
            location = await session.get(OcpiLocation, location_id)
            if location is not None:
                await self._put_location(session, location, removed=False)

    async def location_removed(self, session: AsyncSession, location: OcpiLocation) -> None:
        """Before the operator's deletion: PUT it unpublished with its EVSEs REMOVED (§8.1: no DELETE)."""
        await self._put_location(session, location, removed=True)

    async def tariff_created(self, tariff_id: int) -> None:
        async with self._session_factory() as session:
            tariff = await session.get(Tariff, tariff_id)
            own = self._own()
            if tariff is None or own is None:
                return
            body = tariff_object(own, tariff)
            await self._enqueue(session, "tariffs", "PUT", f"{own.country_code}/{own.party_id}/{tariff.id}", body)

    @contextlib.asynccontextmanager
    async def tariffs_reassigned(self) -> AsyncIterator[None]:
        """Around a change of tariff assignments: the published locations whose connectors' tariff_ids it
        changes (those without tariffs of their own) move their last_updated and are PUT whole."""
        if self._own() is None:  # csms publishes nothing over OCPI: nothing to compare
            yield
            return
        before = await self._tariff_ids_of_locations()
        yield
        after = await self._tariff_ids_of_locations()
        await self._put_changed(before, after)
        self._tariffs_seen = after

    async def follow_assignment_windows(self, interval: float) -> None:
        """Tariff assignments start and end at their own times, which nobody announces: every `interval` seconds,
        the published locations whose connectors' tariff_ids changed since the last look are PUT whole. Each node
        looks; a second PUT of one location, while the first waits, supersedes it in the outbox."""
        while True:
            try:
                if self._own() is not None:
                    now_in_force = await self._tariff_ids_of_locations()
                    if self._tariffs_seen is not None:
                        await self._put_changed(self._tariffs_seen, now_in_force)
                    self._tariffs_seen = now_in_force
            except DATABASE_ERRORS:
                logger.warning("could not compare the locations' tariffs with the last look", exc_info=True)
            await asyncio.sleep(interval)

    async def _put_changed(self, before: TariffsInForce, after: TariffsInForce) -> None:
        """PUT the locations where a connector seen both times names other tariffs: a location or EVSE that came
        or went meanwhile was pushed by the change that made it so."""
        changed = [
            location_id
            for location_id, evses in after.items()
            if any(before.get(location_id, {}).get(evse, ids) != ids for evse, ids in evses.items())
        ]
        async with self._session_factory() as session:
            for location_id in changed:
                await ocpi_locations.touch(session, location_id, now=self._clock())
                await session.commit()
                location = await session.get(OcpiLocation, location_id)
                if location is not None:
                    await self._put_location(session, location, removed=False)

    async def _tariff_ids_of_locations(self) -> TariffsInForce:
        async with self._session_factory() as session:
            published = [location for location in await ocpi_locations.all_locations(session) if location.publish]
            views = await ocpi_locations.views_of(session, published, now=self._clock())
        return {
            view.location.id: {(evse.charge_point_id, evse.connector_id): evse.tariff_ids for evse in view.evses}
            for view in views
        }

    # -- queueing -------------------------------------------------------------------------------------------

    def _spawn(self, work: Any, *, name: str) -> None:
        self._background.spawn(self._guarded(work), name=name)

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except DATABASE_ERRORS:
            logger.warning("an OCPI push could not be queued", exc_info=True)

    def _own(self) -> OwnParty | None:
        try:
            return own_party(self._settings)
        except IdentityMissing:
            return None

    async def _push_statuses(self, charge_point_id: str, statuses: dict[int, str] | None) -> None:
        """PATCH each EVSE's status (None: every EVSE of the charger UNKNOWN); the location's last_updated moves."""
        async with self._status_order, self._session_factory() as session:
            location_id = await ocpi_locations.location_of(session, charge_point_id)
            own = self._own()
            if location_id is None or own is None:
                return
            now = self._clock()
            await ocpi_locations.touch(session, location_id, now=now)
            if statuses is None:
                location = await ocpi_locations.get_location(session, location_id)
                (view,) = await ocpi_locations.views_of(session, [location], now=now)
                statuses = {e.connector_id: UNKNOWN for e in view.evses if e.charge_point_id == charge_point_id}
            for connector_id, status in statuses.items():
                path = f"{own.country_code}/{own.party_id}/{location_id}/{evse_uid(charge_point_id, connector_id)}"
                body = {"status": status, "last_updated": ocpi_timestamp(now)}
                await self._enqueue(session, "locations", "PATCH", path, body, commit=False)
            await session.commit()
        self._wake.set()

    async def _put_location(self, session: AsyncSession, location: OcpiLocation, *, removed: bool) -> None:
        own = self._own()
        if own is None:
            return
        (view,) = await ocpi_locations.views_of(session, [location], now=self._clock())
        body = location_object(own, view, removed=removed)
        await self._enqueue(session, "locations", "PUT", f"{own.country_code}/{own.party_id}/{location.id}", body)

    async def _enqueue(
        self, session: AsyncSession, module: str, method: str, path: str, body: Any, *, commit: bool = True
    ) -> None:
        for party in await _receivers(session, module):
            base = ocpi_parties.endpoint_url(party, module, "RECEIVER") or ""
            await ocpi_outbox.enqueue(session, party.id, method, f"{base.rstrip('/')}/{path}", body)
        if commit:
            await session.commit()
            self._wake.set()

    # -- delivery -------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send due pushes: when one is queued, and every CSMS_OCPI_PUSH_POLL_INTERVAL (for retries)."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except DATABASE_ERRORS:
                logger.exception("could not look for due OCPI pushes")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.ocpi_push_poll_interval)

    async def deliver_due(self) -> None:
        async with self._session_factory() as session:
            due = await ocpi_outbox.due(session, limit=_BATCH)
        stopped: set[int] = set()
        for push_id, party_key in due:
            if party_key not in stopped and not await self._deliver(push_id):
                stopped.add(party_key)

    async def _deliver(self, push_id: int) -> bool:
        """Send one push; False when the party did not take it (its later pushes wait for the next round)."""
        settings = self._settings
        hold_for = settings.ocpi_request_timeout + _CLAIM_MARGIN
        push = None
        try:
            async with self._session_factory() as session:
                push = await ocpi_outbox.claim(
                    session, push_id, max_attempts=settings.ocpi_push_max_attempts, hold_for=hold_for
                )
            return True if push is None else await self._send(push)
        except asyncio.CancelledError:
            if push is not None:  # csms is stopping: the next start sends it at once, not after the claim
                await self._give_back(push)
            raise

    async def _send(self, push: ocpi_outbox.Push) -> bool:
        async with self._session_factory() as session:
            party = await session.get(OcpiParty, push.party_key)
            own = self._own()
            if party is None or own is None or not ocpi_parties.is_registered(party) or party.peer_token is None:
                retry = None if party is None or party.state == ocpi_parties.UNREGISTERED else self._backoff(push)
                await ocpi_outbox.failed(session, push, "the party is not registered (or suspended)", retry_in=retry)
                return False
            token, receiver = party.peer_token, PartyRef(party.country_code, party.party_id)
        sender = PartyRef(own.country_code, own.party_id)
        try:
            await self._client.call(push.method, push.url, token=token, body=push.body, routing=(sender, receiver))
        except PeerError as error:
            async with self._session_factory() as session:
                retry = None if _refused_for_good(error) else self._backoff(push)
                await ocpi_outbox.failed(session, push, str(error), retry_in=retry)
            logger.warning("OCPI push %s to %s failed: %s", push.push_id, receiver, error)
            return False
        async with self._session_factory() as session:
            await ocpi_outbox.delivered(session, push)
        return True

    async def _give_back(self, push: ocpi_outbox.Push) -> None:
        with contextlib.suppress(*DATABASE_ERRORS):
            async with self._session_factory() as session:
                await ocpi_outbox.given_back(session, push)

    def _backoff(self, push: ocpi_outbox.Push) -> float | None:
        if push.number >= self._settings.ocpi_push_max_attempts:
            return None
        return float(self._settings.ocpi_push_retry_base * 2 ** (push.number - 1))


def _refused_for_good(error: PeerError) -> bool:
    """The party answered that the object itself is wrong (OCPI 2xxx, HTTP 4xx but 401/403/404/429): sending it
    again will not help. Anything else (away, 5xx, 3xxx, a token it no longer takes) may pass later."""
    if not isinstance(error, PeerRefused) or error.status_code is None:
        return False
    transient_http = error.http_status >= 500 or error.http_status in (401, 403, 404, 408, 429)
    return 2000 <= error.status_code < 3000 and not transient_http


async def _receivers(session: AsyncSession, module: str) -> Sequence[OcpiParty]:
    """Registered parties with a RECEIVER endpoint of the module (suspended ones get nothing)."""
    parties = await session.scalars(select(OcpiParty).where(OcpiParty.state == ocpi_parties.REGISTERED))
    return [
        party
        for party in parties
        if ocpi_parties.is_registered(party) and ocpi_parties.endpoint_url(party, module, "RECEIVER")
    ]
