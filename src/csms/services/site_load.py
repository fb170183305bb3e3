"""Site load management at work: every site kept under its limit, on one node at a time.

Chargers' messages reach `SiteLoadManager` through hooks the OCPP handlers call (a transaction started or
stopped, a car's draw changed markedly, a charger connected or went away). The node holding the charger
publishes a site event on the bus; the node leading the site (its lease in the sites table) recomputes
the shares (services/load_allocation.py) and sends each running transaction its TxProfile:

- limits that go down are sent first and answered before any limit goes up, so the sum of the limits in
  force stays under the site's limit while they change; a charger that refuses a lower limit, or does not
  answer, is counted at its maximum and the others are recomputed before anyone gets more;
- a rise smaller than SEND_STEP_A is not sent (the car keeps the lower limit it has): with the draw
  hysteresis of the allocation function, a car's draw wandering by an ampere sends no profile;
- each charger of a site has a TxDefaultProfile, so a session starts at a safe default before the
  allocator speaks: the minimum current where the site can give it to every connector at once, else 0 A
  (the car waits the moment it takes). An idle connector counts at that default (at its charger's maximum
  while the charger has not accepted its default), so a start never takes the site over its limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.bus import Bus, Message
from csms.db.database_time import database_now, database_now_plus
from csms.db.models import (
    Charger,
    ChargingProfile,
    Connector,
    IdTag,
    Site,
    SiteAllocation,
    SiteSample,
    Transaction,
    Vehicle,
)
from csms.domain.commands import (
    TX_DEFAULT_PROFILE,
    TX_PROFILE,
    ChargingProfileValue,
    ClearChargingProfile,
    SchedulePeriod,
    SetChargingProfile,
)
from csms.services import charging_profiles, sites, smart_charging
from csms.services.background import BackgroundTasks
from csms.services.calls import SendCommand
from csms.services.id_tags import ACCEPTED
from csms.services.load_allocation import Demand, Share, Strategy, allocate
from csms.services.transactions import ClosedTransaction, MeterSample, TransactionRef, latest_power_w

logger = logging.getLogger(__name__)

SITE_EVENTS = "csms.sites.events"
SITES_CHANGED = "csms.sites.changed"
# The allocator's own profiles: one TxDefaultProfile on connector 0, and each transaction's TxProfile on
# its connector (EVSE) under DEFAULT_PROFILE_ID + connector: setting it again replaces it.
DEFAULT_PROFILE_ID = 770_000
MAX_CONNECTORS = 999
DEFAULT_STACK_LEVEL = 0
TX_STACK_LEVEL = 1
SEND_STEP_A = 1.0
# A draw that moved this much (A) since the last one published is worth a recomputation.
DRAW_CHANGE_A = 2.0
VOLTS = 230.0
# How soon a site is recomputed when a start or stop a charger reported is not in the database yet.
CATCH_UP_SECONDS = 0.25
CHARGING, WAITING, UNRESPONSIVE = "charging", "waiting", "unresponsive"


@dataclass(frozen=True, slots=True)
class Timing:
    lease_seconds: float = 15.0
    renew_seconds: float = 5.0
    # How often a site is recomputed with nothing happening: windows of the day, overrides that run out,
    # a retry of chargers that refused.
    tick_seconds: float = 30.0
    # Events this close together make one recomputation.
    settle_seconds: float = 0.05
    sample_seconds: float = 60.0


@dataclass
class _SiteWork:
    """A site this node leads: its worker task and what woke it."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    connected: set[str] = field(default_factory=set)  # chargers that (re)connected: give them their default
    task: asyncio.Task[None] | None = None
    # Chargers that accepted their TxDefaultProfile at `default_a` (cleared when the default changes).
    default_accepted: set[str] = field(default_factory=set)
    default_a: float | None = None
    retry_after: dict[int, float] = field(default_factory=dict)  # unresponsive sessions: when to ask again
    default_retry_after: dict[str, float] = field(default_factory=dict)  # chargers that refused their default
    # Transactions the chargers reported started or stopped, by when (monotonic), until the database shows
    # it: a charger's message may be answered before its row is committed.
    started: dict[int, float] = field(default_factory=dict)
    stopped: dict[int, float] = field(default_factory=dict)
    # What the leader knows of the site between recomputations: its settings and chargers (read again when
    # an operator changes them, and every tick), and what is in force on each session (its own record).
    config: _SiteConfig | None = None
    in_force: dict[int, _InForce] | None = None
    last_sample_at: datetime | None = None

    def forget_old(self, now: float, *, after: float) -> None:
        for reported in (self.started, self.stopped, self.retry_after):
            for transaction_id in [t for t, at in reported.items() if at < now - after]:
                del reported[transaction_id]


class SiteLoadManager:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        send: SendCommand,
        bus: Bus,
        *,
        node_id: str,
        background: BackgroundTasks,
        clock: Callable[[], datetime],
        timing: Timing | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._send = send
        self._bus = bus
        self._node_id = node_id
        self._background = background
        self._clock = clock
        self.timing = timing or Timing()
        self._site_of: dict[str, int] = {}
        self._draws: dict[int, float] = {}  # transaction → amperes its car draws, as last published
        self._led: dict[int, _SiteWork] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- hooks of the OCPP handlers (return at once) -------------------------------------------

    def transaction_started(self, ref: TransactionRef) -> None:
        self._signal(ref.charge_point_id, kind="started", transaction_id=ref.id)

    def transaction_stopped(self, closed: ClosedTransaction) -> None:
        self._signal(closed.charge_point_id, kind="stopped", transaction_id=closed.id)

    def meter_values(self, ref: TransactionRef, samples: Sequence[MeterSample]) -> None:
        if ref.charge_point_id not in self._site_of:
            return
        drawn = drawn_current_a(samples)
        if drawn is None:
            return
        last = self._draws.get(ref.id)
        if last is None or abs(drawn - last) >= DRAW_CHANGE_A:
            self._draws[ref.id] = drawn
            self._signal(ref.charge_point_id, kind="draw", transaction_id=ref.id, drawn_a=drawn)

    def charger_connected(self, charge_point_id: str) -> None:
        self._signal(charge_point_id, kind="connected")

    def charger_disconnected(self, charge_point_id: str) -> None:
        self._signal(charge_point_id, kind="disconnected")

    def _signal(self, charge_point_id: str, **fields: Any) -> None:
        site_id = self._site_of.get(charge_point_id)
        if site_id is not None:
            message = {"site_id": site_id, "charge_point_id": charge_point_id, **fields}
            self._background.spawn(self._bus.publish(SITE_EVENTS, message), name="site-event")

    def is_on_site(self, charge_point_id: str) -> bool:
        return charge_point_id in self._site_of

    # -- what the API calls ---------------------------------------------------------------------

    async def site_changed(self, site_id: int, *, left: Iterable[str] = ()) -> None:
        """A site's settings, chargers or limit changed (or it was deleted): every node reads who is on
        which site again, and its leader recomputes; chargers that `left` get their limits lifted."""
        await self._bus.publish(SITES_CHANGED, {"site_id": site_id})
        for charge_point_id in left:
            self._background.spawn(self._lift_limits(charge_point_id), name="site-lift-limits")

    # -- running ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._refresh_memberships()
        events = await self._bus.subscribe(SITE_EVENTS)
        changes = await self._bus.subscribe(SITES_CHANGED)
        self._tasks = [
            asyncio.create_task(self._follow(events), name="site-events"),
            asyncio.create_task(self._follow(changes), name="site-changes"),
            asyncio.create_task(self._keep_leases(), name="site-leases"),
        ]

    async def close(self) -> None:
        tasks = self._tasks + [work.task for work in self._led.values() if work.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._led = [], {}
        with contextlib.suppress(Exception):  # a node stopping lets another take its sites at once
            async with self._session_factory() as session:
                await session.execute(
                    update(Site)
                    .where(Site.allocator_node == self._node_id)
                    .values(allocator_node=None, allocator_lease_until=None)
                )
                await session.commit()

    async def _follow(self, subscription: Any) -> None:
        async for subject, message in subscription:
            try:
                await self._heard(subject, message)
            except Exception:
                logger.exception("site event %s not handled", message)

    async def _heard(self, subject: str, message: Message) -> None:
        site_id = int(message["site_id"])
        if subject == SITES_CHANGED:
            await self._refresh_memberships()
            self._follow_leases(await self._take_leases())  # a new site is led at once, not at the next renewal
        elif message.get("kind") == "draw":
            self._draws[int(message["transaction_id"])] = float(message["drawn_a"])
        elif message.get("kind") == "stopped":
            self._draws.pop(int(message["transaction_id"]), None)
        work = self._led.get(site_id)
        if work is None:
            return
        if subject == SITES_CHANGED:
            work.config = None
        if message.get("kind") in ("started", "stopped"):
            reported = work.started if message["kind"] == "started" else work.stopped
            reported[int(message["transaction_id"])] = time.monotonic()
        if message.get("kind") == "connected":
            work.connected.add(str(message["charge_point_id"]))
        if message.get("kind") == "disconnected":
            work.default_accepted.discard(str(message["charge_point_id"]))
        work.wake.set()

    async def _refresh_memberships(self) -> None:
        async with self._session_factory() as session:
            self._site_of = await sites.memberships(session)

    async def _keep_leases(self) -> None:
        while True:
            try:
                await self._refresh_memberships()
                led = await self._take_leases()
                self._follow_leases(led)
            except Exception:
                logger.exception("site leases not renewed; trying again")
            await asyncio.sleep(self.timing.renew_seconds)

    async def _take_leases(self) -> set[int]:
        """Renew this node's leases and take those that ran out; the sites this node leads now."""
        async with self._session_factory() as session:
            await session.execute(
                update(Site)
                .where(
                    or_(
                        Site.allocator_node == self._node_id,
                        Site.allocator_node.is_(None),
                        Site.allocator_lease_until < database_now(),
                    )
                )
                .values(
                    allocator_node=self._node_id, allocator_lease_until=database_now_plus(self.timing.lease_seconds)
                )
            )
            await session.commit()
            led = await session.scalars(select(Site.id).where(Site.allocator_node == self._node_id))
            return set(led)

    def _follow_leases(self, led: set[int]) -> None:
        for site_id in set(self._led) - led:
            work = self._led.pop(site_id)
            if work.task is not None:
                work.task.cancel()
        for site_id in led - set(self._led):
            work = _SiteWork()
            self._led[site_id] = work
            work.task = asyncio.create_task(self._lead(site_id, work), name=f"site-{site_id}")

    async def _lead(self, site_id: int, work: _SiteWork) -> None:
        """Recompute the site whenever something happens on it, and every tick besides."""
        work.connected.update(await self._connected_members(site_id))  # a new leader gives every charger its default
        while True:
            try:
                again = await self.recompute(site_id, work)
            except Exception:
                logger.exception("site %s: allocation failed; trying again", site_id)
                again = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(work.wake.wait(), self.timing.tick_seconds if again is None else again)
            await asyncio.sleep(self.timing.settle_seconds)
            work.wake.clear()

    async def _connected_members(self, site_id: int) -> set[str]:
        async with self._session_factory() as session:
            members = await sites.charger_ids(session, site_id)
            query = select(Charger.charge_point_id).where(Charger.charge_point_id.in_(members), Charger.is_connected)
            return set(await session.scalars(query))

    # -- one recomputation ----------------------------------------------------------------------

    async def recompute(self, site_id: int, work: _SiteWork) -> float | None:
        """Share the site's limit anew and send what changed; in how many seconds it must run again before
        the next event or tick: at once when a charger refused a lower limit or an unresponsive one came
        back, soon when a start or stop the chargers reported is not in the database yet."""
        now = self._clock()
        state = await self._read_state(site_id, work)
        if state is None:
            return None
        work.forget_old(time.monotonic(), after=self.timing.tick_seconds)
        seen = {running.transaction.id for running in state.sessions}
        state.sessions = [running for running in state.sessions if running.transaction.id not in work.stopped]
        behind = any(transaction_id not in seen for transaction_id in work.started) or any(
            transaction_id in seen for transaction_id in work.stopped
        )
        for transaction_id in seen & set(work.started):
            del work.started[transaction_id]
        await self._give_defaults(state, work)
        limit = sites.limit_in_force(state.site, state.windows, now)
        shares = allocate(
            max(0.0, limit - state.reserve_a(work)),
            [self._demand(state, session, work) for session in state.sessions],
            min_current_a=state.site.min_current_a,
            strategy=_strategy(state.site.strategy),
        )
        lower, higher = self._plan(state, shares, work)
        results = await self._send_all(state, lower)
        refused = any(sent.status != "Accepted" for sent in results.values())
        if not refused:
            results |= await self._send_all(state, higher)
        await self._record(state, shares, results, work, now=now, limit_a=limit)
        back = any(shares[key].unresponsive and sent.status == "Accepted" for key, sent in results.items())
        if refused or back:
            return 0.0
        return CATCH_UP_SECONDS if behind else None

    async def _read_state(self, site_id: int, work: _SiteWork) -> _SiteState | None:
        """The site as the leader sees it now: its settings and in-force limits from memory, its running
        sessions and connected chargers from the database (two reads)."""
        async with self._session_factory() as session:
            if work.config is None or time.monotonic() - work.config.read_at > self.timing.tick_seconds:
                work.config = await _read_config(session, site_id)
            if work.config is None:
                return None
            if work.in_force is None:  # a new leader carries on from what the last one recorded
                work.in_force = {a.transaction_id: _InForce.of(a) for a in await sites.allocations(session, site_id)}
                work.last_sample_at = await sites.latest_sample_at(session, site_id)
            members = work.config.members
            connected = set(
                await session.scalars(
                    select(Charger.charge_point_id).where(Charger.charge_point_id.in_(members), Charger.is_connected)
                )
            )
            rows = await session.execute(
                select(Transaction, IdTag.charging_priority, Vehicle.charging_priority)
                .outerjoin(IdTag, IdTag.id_tag == Transaction.id_tag)
                .outerjoin(Vehicle, Vehicle.id == Transaction.vehicle_id)
                .where(
                    Transaction.charge_point_id.in_(members),
                    Transaction.stop_timestamp.is_(None),
                    Transaction.closed_by.is_(None),
                    Transaction.id_tag_status == ACCEPTED,
                )
                .order_by(Transaction.id)
            )
            running = [
                _Running(transaction, max(tag_priority or 1, vehicle_priority or 1))
                for transaction, tag_priority, vehicle_priority in rows
            ]
        config = work.config
        return _SiteState(
            site=config.site,
            members=members,
            windows=config.windows,
            connected=connected,
            points=config.points,
            sessions=running,
            allocated=work.in_force,
        )

    def _demand(self, state: _SiteState, running: _Running, work: _SiteWork) -> Demand:
        transaction = running.transaction
        allocated = state.allocated.get(transaction.id)
        in_force = allocated.limit_a if allocated is not None and allocated.state != UNRESPONSIVE else None
        unresponsive = transaction.charge_point_id not in state.connected or (
            allocated is not None and allocated.state == UNRESPONSIVE
        )
        return Demand(
            key=transaction.id,
            max_current_a=state.site.charger_max_current_a,
            order=transaction.id,
            priority=running.priority,
            drawn_a=self._draws.get(transaction.id),
            limit_a=in_force,
            unresponsive=unresponsive,
        )

    def _plan(
        self, state: _SiteState, shares: dict[int, Share], work: _SiteWork
    ) -> tuple[list[tuple[_Running, float]], list[tuple[_Running, float]]]:
        """The limits to send: those going down, then those going up. A session's first limit goes with the
        first when it is no more than the default it started under, else with the second: sent before the
        others' limits went down, it could take the site over its limit until they had."""
        lower: list[tuple[_Running, float]] = []
        higher: list[tuple[_Running, float]] = []
        monotonic = time.monotonic()
        for running in state.sessions:
            transaction = running.transaction
            share = shares[transaction.id]
            allocated = state.allocated.get(transaction.id)
            if share.unresponsive:
                if (
                    transaction.charge_point_id in state.connected
                    and work.retry_after.get(transaction.id, 0) <= monotonic
                ):
                    lower.append((running, share.limit_a))
                continue
            if allocated is None:  # a first limit: up or down from what the session started under
                started_under = state.started_under_a(transaction.charge_point_id, work)
                (lower if share.limit_a <= started_under else higher).append((running, share.limit_a))
            elif share.limit_a < allocated.limit_a:
                lower.append((running, share.limit_a))
            elif share.limit_a >= allocated.limit_a + SEND_STEP_A or (allocated.limit_a == 0 < share.limit_a):
                higher.append((running, share.limit_a))
        return lower, higher

    async def _send_all(self, state: _SiteState, limits: list[tuple[_Running, float]]) -> dict[int, _Sent]:
        async def one(running: _Running, limit_a: float) -> tuple[int, _Sent]:
            transaction = running.transaction
            connector = transaction.evse_id or transaction.connector_id
            profile = ChargingProfileValue(
                profile_id=DEFAULT_PROFILE_ID + connector,
                stack_level=TX_STACK_LEVEL,
                purpose=TX_PROFILE,
                kind="Relative",
                charging_rate_unit="A",
                periods=(SchedulePeriod(0, limit_a, number_phases=state.site.phases),),
                transaction_id=transaction.id,
                transaction_key=transaction.transaction_key,
            )
            command = SetChargingProfile(connector, profile)
            return transaction.id, _Sent(await self._send_profile(transaction.charge_point_id, command), command)

        answers = await asyncio.gather(*(one(running, limit_a) for running, limit_a in limits))
        return dict(answers)

    async def _send_profile(self, charge_point_id: str, command: SetChargingProfile) -> str:
        """The charger's answer (not recorded yet: `_record` keeps the accepted ones)."""
        try:
            return str((await self._send(charge_point_id, command))["status"])
        except Exception as error:  # one charger's silence never stops the site's allocation
            logger.info("%s: %s not set: %s", charge_point_id, command.profile.purpose, error)
            return "NotSent"

    async def _set(self, charge_point_id: str, command: SetChargingProfile) -> str:
        """Send and, once accepted, keep the profile at once (a charger's default)."""
        status = await self._send_profile(charge_point_id, command)
        if status == "Accepted":
            async with self._session_factory() as session:
                await charging_profiles.record_set(
                    session, charge_point_id, command.connector_id, command.profile, now=self._clock()
                )
        return status

    async def _give_defaults(self, state: _SiteState, work: _SiteWork) -> None:
        """Every connected charger of the site gets the site's TxDefaultProfile (again, when it changed)."""
        default_a = state.safe_default_a
        if default_a != work.default_a:
            work.default_a, work.default_accepted = default_a, set()
            work.connected |= state.connected
        monotonic = time.monotonic()
        due = {cp for cp in state.connected if work.default_retry_after.get(cp, 0) <= monotonic}
        wanted = sorted(((work.connected & state.connected) | due) - work.default_accepted)
        work.connected.clear()
        profile = ChargingProfileValue(
            profile_id=DEFAULT_PROFILE_ID,
            stack_level=DEFAULT_STACK_LEVEL,
            purpose=TX_DEFAULT_PROFILE,
            kind="Relative",
            charging_rate_unit="A",
            periods=(SchedulePeriod(0, default_a, number_phases=state.site.phases),),
        )
        statuses = await asyncio.gather(*(self._set(cp, SetChargingProfile(0, profile)) for cp in wanted))
        for charge_point_id, status in zip(wanted, statuses, strict=True):
            if status == "Accepted":
                work.default_accepted.add(charge_point_id)
            else:  # asked again a tick later, not at every event of the site
                work.default_retry_after[charge_point_id] = monotonic + self.timing.tick_seconds

    async def _lift_limits(self, charge_point_id: str) -> None:
        """A charger left its site: it forgets the allocator's profiles, its default and each connector's
        (best effort: it may be away; its sessions' profiles end with them anyway)."""
        async with self._session_factory() as session:
            query = select(ChargingProfile.charging_profile_id).where(
                ChargingProfile.charge_point_id == charge_point_id,
                ChargingProfile.charging_profile_id.between(DEFAULT_PROFILE_ID, DEFAULT_PROFILE_ID + MAX_CONNECTORS),
            )
            held = sorted(set(await session.scalars(query)))
        for profile_id in held:
            command = ClearChargingProfile(profile_id=profile_id)
            try:
                await smart_charging.clear_profiles(
                    self._session_factory, self._send, charge_point_id, command, now=self._clock()
                )
            except Exception as error:  # an absent charger keeps them: an operator clears them later
                logger.info("%s: site profile %s not cleared: %s", charge_point_id, profile_id, error)

    async def _record(
        self,
        state: _SiteState,
        shares: dict[int, Share],
        results: dict[int, _Sent],
        work: _SiteWork,
        *,
        now: datetime,
        limit_a: float,
    ) -> None:
        """Keep what is in force now: a sent limit once accepted; a refused or unanswered one marks its
        session unresponsive (counted at its maximum; asked again after a tick). One commit writes the
        accepted profiles, the allocation when it changed and the sample when one is due; none when nothing
        changed."""
        site = state.site
        in_force: dict[int, _InForce] = {}
        for running in state.sessions:
            transaction = running.transaction
            before = state.allocated.get(transaction.id)
            sent = results.get(transaction.id)
            if sent is not None and sent.status == "Accepted":
                work.retry_after.pop(transaction.id, None)
                limit = sent.limit_a
                entry = _InForce(
                    transaction.charge_point_id, sent.connector_id, limit, limit, WAITING if limit == 0 else CHARGING
                )
            elif sent is not None or shares[transaction.id].unresponsive:
                if sent is not None:
                    work.retry_after[transaction.id] = time.monotonic() + self.timing.tick_seconds
                limit = before.limit_a if before else 0.0
                entry = _InForce(
                    transaction.charge_point_id, transaction.evse_id or transaction.connector_id, limit,
                    site.charger_max_current_a, UNRESPONSIVE,
                )  # fmt: skip
            elif before is not None:
                entry = before
            else:
                continue
            in_force[transaction.id] = replace(entry, drawn_a=self._draws.get(transaction.id))
        accepted = [
            (running.transaction.charge_point_id, sent.command)
            for running in state.sessions
            if (sent := results.get(running.transaction.id)) is not None and sent.status == "Accepted"
        ]
        changed = in_force != state.allocated
        sample_due = work.last_sample_at is None or now - work.last_sample_at >= timedelta(
            seconds=self.timing.sample_seconds
        )
        if not (changed or accepted or sample_due):
            return
        async with self._session_factory() as session:
            for charge_point_id, command in accepted:
                await charging_profiles.keep_set(
                    session, charge_point_id, command.connector_id, command.profile, now=now
                )
            if changed:
                await session.execute(delete(SiteAllocation).where(SiteAllocation.site_id == site.id))
                session.add_all(entry.row(transaction_id, site.id, now) for transaction_id, entry in in_force.items())
            if sample_due:
                draws = [entry.drawn_a for entry in in_force.values() if entry.drawn_a is not None]
                session.add(
                    SiteSample(
                        site_id=site.id,
                        at=now,
                        limit_a=limit_a,
                        allocated_a=sum(entry.counted_a for entry in in_force.values()),
                        drawn_a=sum(draws) if draws else None,
                    )
                )
            await session.commit()
        work.in_force = in_force
        if sample_due:
            work.last_sample_at = now


@dataclass(frozen=True, slots=True)
class _Sent:
    """A limit sent to a session's charger, and its answer."""

    status: str
    command: SetChargingProfile

    @property
    def limit_a(self) -> float:
        return self.command.profile.periods[0].limit

    @property
    def connector_id(self) -> int:
        return self.command.connector_id


@dataclass(frozen=True, slots=True)
class _InForce:
    """What is in force on one session, as the leader recorded it (a site_allocations row)."""

    charge_point_id: str
    connector_id: int
    limit_a: float
    counted_a: float
    state: str
    drawn_a: float | None = None

    @classmethod
    def of(cls, row: SiteAllocation) -> _InForce:
        return cls(row.charge_point_id, row.connector_id, row.limit_a, row.counted_a, row.state, row.drawn_a)

    def row(self, transaction_id: int, site_id: int, now: datetime) -> SiteAllocation:
        return SiteAllocation(
            transaction_id=transaction_id,
            site_id=site_id,
            charge_point_id=self.charge_point_id,
            connector_id=self.connector_id,
            limit_a=self.limit_a,
            counted_a=self.counted_a,
            state=self.state,
            drawn_a=self.drawn_a,
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class _SiteConfig:
    """A site's settings and chargers, as an operator set them."""

    site: Site
    members: list[str]
    windows: list[sites.LimitWindow]
    points: dict[str, int]  # connectors (EVSEs) each charger reported, by charger
    read_at: float  # monotonic


async def _read_config(session: AsyncSession, site_id: int) -> _SiteConfig | None:
    site = await session.get(Site, site_id)
    if site is None:
        return None
    members = await sites.charger_ids(session, site_id)
    point = func.coalesce(Connector.evse_id, Connector.connector_id)
    points = await session.execute(
        select(Connector.charge_point_id, func.count(func.distinct(point)))
        .where(Connector.charge_point_id.in_(members), point > 0)
        .group_by(Connector.charge_point_id)
    )
    windows = await sites.windows_of(session, site_id)
    return _SiteConfig(site, members, windows, dict(points.all()), read_at=time.monotonic())


@dataclass(frozen=True)
class _Running:
    transaction: Transaction
    priority: int


@dataclass
class _SiteState:
    site: Site
    members: list[str]
    windows: list[sites.LimitWindow]
    connected: set[str]
    points: dict[str, int]  # connectors (EVSEs) each charger reported, by charger
    sessions: list[_Running]
    allocated: dict[int, _InForce]

    @property
    def safe_default_a(self) -> float:
        """The minimum where every connector of the site can have it at once, else 0 A."""
        connectors = sum(max(1, self.points.get(cp, 1)) for cp in self.members)
        site = self.site
        return site.min_current_a if site.min_current_a * connectors <= site.max_current_a else 0.0

    def started_under_a(self, charge_point_id: str, work: _SiteWork) -> float:
        """The limit a new session on this charger runs under before the allocator speaks: the default when
        the charger accepted it, else its maximum."""
        return self.safe_default_a if charge_point_id in work.default_accepted else self.site.charger_max_current_a

    def reserve_a(self, work: _SiteWork) -> float:
        """What idle connectors may draw before the allocator hears of a start: the default on chargers
        that accepted it, the charger's maximum on those that did not."""
        busy: dict[str, int] = {}
        for running in self.sessions:
            busy[running.transaction.charge_point_id] = busy.get(running.transaction.charge_point_id, 0) + 1
        reserve = 0.0
        for charge_point_id in self.members:
            idle = max(0, max(1, self.points.get(charge_point_id, 1)) - busy.get(charge_point_id, 0))
            reserve += idle * self.started_under_a(charge_point_id, work)
        return reserve


def drawn_current_a(samples: Sequence[MeterSample], *, phases: int = 3) -> float | None:
    """What the car draws per phase, by the newest sample: Current.Import (the highest phase), else the
    active power over `phases` phases at 230 V."""
    newest = max(samples, key=lambda sample: sample.timestamp, default=None)
    if newest is None:
        return None
    currents = []
    for sampled in newest.sampled_values:
        if sampled.measurand == "Current.Import":
            try:
                currents.append(float(sampled.value))
            except ValueError:
                continue
    finite = [current for current in currents if 0 <= current < 10_000]
    if finite:
        return max(finite)
    power = latest_power_w([newest])
    if power is None or not 0 <= power < 10_000_000:
        return None
    return power / (VOLTS * phases)


def _strategy(name: str) -> Strategy:
    return "priority" if name == "priority" else "equal"
