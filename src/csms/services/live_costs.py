"""Running sessions on this node: cost so far from memory, and budgets enforced as meter values arrive.

The node holding a charger's socket sees its MeterValues, so it keeps each open transaction's
readings, activity, tariffs and budget in memory: pricing a meter value costs no database read.
A session is loaded once (its stored history, tariffs and the user's budget) in the background when
first seen; until then its cost so far is unknown (None).

Budgets are enforced with RemoteStopTransaction, sent once per session from a background task,
never from the handler that saw the meter value (the charger's receive loop waits on it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.bus import Bus
from csms.db.change_counters import TARIFFS
from csms.db.models import Transaction
from csms.domain.commands import RemoteStop
from csms.services import budgets, session_costs, tariffs
from csms.services.background import BackgroundTasks
from csms.services.calls import SendCommand
from csms.services.costing import CostingError, Sampled, TariffPeriod, UsageLog, session_cost
from csms.services.shared_cache import SharedTable
from csms.services.transactions import MeterSample, TransactionRef

logger = logging.getLogger(__name__)

Publish = Callable[..., Awaitable[None]]


@dataclass(slots=True)
class _Running:
    ref: TransactionRef
    log: UsageLog | None = None
    periods: list[TariffPeriod] = field(default_factory=list)
    limit: budgets.Limit | None = None
    early: list[tuple[datetime, Sampled | str]] = field(default_factory=list)
    stop_requested: bool = False
    loading: asyncio.Task[None] | None = None

    def add(self, at: datetime, sampled_or_status: Sampled | str) -> None:
        if self.log is None:
            self.early.append((at, sampled_or_status))
        elif isinstance(sampled_or_status, str):
            self.log.add_status(at, sampled_or_status)
        else:
            self.log.add_sampled(at, sampled_or_status)


class LiveCosts:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        send: SendCommand,
        publish: Publish,
        background: BackgroundTasks,
        clock: Callable[[], datetime],
        bus: Bus,
        cache_max_age: float = 30.0,
    ) -> None:
        self._session_factory = session_factory
        self._send = send
        self._publish = publish
        self._background = background
        self._clock = clock
        self._running: dict[int, _Running] = {}
        # The same sessions by (charger, connector): a StatusNotification finds its session at once
        # rather than by a scan of every session running on the node.
        self._on_connector: dict[tuple[str, int], list[_Running]] = {}
        self.tariff_book: SharedTable[session_costs.TariffBook] = SharedTable(
            TARIFFS, bus, self._read_book, max_age=cache_max_age
        )

    async def _read_book(self) -> session_costs.TariffBook:
        async with self._session_factory() as session:
            return await session_costs.load_tariff_book(session)

    def track(self, ref: TransactionRef) -> None:
        """Follow a transaction first seen here mid-way (a reconnect, a restart): its history is read."""
        if ref.id not in self._running:
            running = self._follow(ref)
            running.loading = self._background.spawn(self._load(ref.id), name=f"live-cost-{ref.id}")

    def started(self, ref: TransactionRef, *, id_tag: str, started_at: datetime) -> None:
        """Follow a transaction that starts now: it has no history yet, so only its tariff and budget are read,
        and only when there are tariffs, or a user who might have a budget."""
        if ref.id not in self._running:
            running = self._follow(ref)
            work = self._load_started(ref, id_tag, started_at)
            running.loading = self._background.spawn(work, name=f"live-cost-{ref.id}")

    async def meter_values(self, ref: TransactionRef, samples: Sequence[MeterSample]) -> Decimal | None:
        """Note the samples; the cost so far (None when it cannot be known). Starts a budget stop when reached.

        A reading that arrives while the session is still being loaded waits for the load (a few ms at
        the start of a session): otherwise its cost would be published as unknown, and the app would
        show no cost until the next reading.
        """
        self.track(ref)
        running = self._running[ref.id]
        for sample in samples:
            for sampled in sample.sampled_values:
                running.add(sample.timestamp, sampled)
        if running.log is None and running.loading is not None:
            await asyncio.wait([running.loading])
        return self._check(running)

    def _follow(self, ref: TransactionRef) -> _Running:
        running = self._running[ref.id] = _Running(ref)
        self._on_connector.setdefault((ref.charge_point_id, ref.connector_id), []).append(running)
        return running

    def status(self, charge_point_id: str, connector_id: int, status: str, *, at: datetime) -> None:
        for running in self._on_connector.get((charge_point_id, connector_id), ()):
            running.add(at, status)

    def stopped(self, transaction_id: int) -> None:
        running = self._running.pop(transaction_id, None)
        if running is None:
            return
        connector = (running.ref.charge_point_id, running.ref.connector_id)
        sessions = self._on_connector[connector]
        sessions.remove(running)
        if not sessions:
            del self._on_connector[connector]

    def limit_changed(self, user_id: int, limit: budgets.Limit | None) -> None:
        for running in self._running.values():
            if running.ref.user_id == user_id:
                running.limit = limit
                self._check(running)

    def cost_so_far(self, transaction_id: int) -> Decimal | None:
        running = self._running.get(transaction_id)
        return self._cost(running) if running is not None else None

    def _cost(self, running: _Running) -> Decimal | None:
        if running.log is None or not running.periods:
            return None
        try:
            cost = session_cost(running.log.usage(end=max(self._clock(), running.log.start)), running.periods)
        except CostingError:
            return None
        return cost.total if cost is not None else None

    def _check(self, running: _Running) -> Decimal | None:
        cost = self._cost(running)
        limit = running.limit
        if limit is not None and not running.stop_requested and running.log is not None:
            if limit.is_reached(energy_wh=running.ref.energy_wh, cost=cost):
                running.stop_requested = True
                self._background.spawn(self._stop(running, cost), name=f"budget-stop-{running.ref.id}")
        return cost

    async def _load(self, transaction_id: int) -> None:
        book = await self.tariff_book.get()  # before taking a connection: its own read needs one too
        async with self._session_factory() as session:
            transaction = await session.get(Transaction, transaction_id)
            running = self._running.get(transaction_id)
            if transaction is None or running is None:
                return
            log = await session_costs.usage_log(session, transaction, until=self._clock())
            place = await session_costs.place_of(session, transaction) if book.assignments else None
            limit = await budgets.get_limit(session, transaction.user_id) if transaction.user_id else None
        running.periods = book.periods(place, start=transaction.start_timestamp, end=None) if place else []
        self._begin(running, log, limit)

    async def _load_started(self, ref: TransactionRef, id_tag: str, started_at: datetime) -> None:
        book = await self.tariff_book.get()
        place, limit = None, None
        if book.assignments or ref.user_id is not None:
            async with self._session_factory() as session:
                if book.assignments:
                    place = await tariffs.place_of(
                        session, charge_point_id=ref.charge_point_id, connector_id=ref.connector_id, id_tag=id_tag
                    )
                limit = await budgets.get_limit(session, ref.user_id) if ref.user_id is not None else None
        running = self._running.get(ref.id)
        if running is None:
            return
        running.periods = book.periods(place, start=started_at, end=None) if place else []
        self._begin(running, UsageLog.starting(started_at, ref.meter_start), limit)

    def _begin(self, running: _Running, log: UsageLog, limit: budgets.Limit | None) -> None:
        """Price from now on, with what arrived while the session was being loaded."""
        running.limit = limit
        running.log = log
        for at, early in running.early:
            running.add(at, early)
        running.early.clear()
        self._check(running)

    async def _stop(self, running: _Running, cost: Decimal | None) -> None:
        ref = running.ref
        await self._publish(
            "budget_reached",
            charge_point_id=ref.charge_point_id,
            connector_id=ref.connector_id,
            transaction_id=ref.id,
            user_id=ref.user_id,
            energy_wh=ref.energy_wh,
            cost_so_far=str(cost) if cost is not None else None,
        )
        command = RemoteStop(transaction_id=ref.id, transaction_key=ref.transaction_key)
        answer: dict[str, Any] = await self._send(ref.charge_point_id, command)
        logger.info("budget of transaction %s reached: remote stop %s", ref.id, answer.get("status"))
