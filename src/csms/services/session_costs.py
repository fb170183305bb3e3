"""The cost of stored transactions: their meter values, status history and tariffs, read and priced.

A finished transaction's cost is frozen when it stops (`freeze_cost`), so later tariff assignments
never change a bill; a running one is priced up to `now`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import MeterValue, StatusNotification, Tariff, TariffAssignment, Transaction, TransactionCost
from csms.services import tariffs
from csms.services.costing import Cost, CostingError, TariffPeriod, UsageLog, session_cost
from csms.services.id_tags import ACCEPTED

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PricedSession:
    currency: str
    total: Decimal
    breakdown: dict[str, Any]

    @classmethod
    def of(cls, cost: Cost) -> PricedSession:
        return cls(currency=cost.currency, total=cost.total, breakdown=cost.breakdown())


@dataclass(frozen=True, slots=True)
class TariffBook:
    """Every tariff and assignment: a small table, read once per pricing."""

    assignments: list[TariffAssignment]
    by_id: dict[int, Tariff]

    def periods(self, place: tariffs.Place, *, start: datetime, end: datetime | None) -> list[TariffPeriod]:
        return tariffs.tariff_periods(self.assignments, self.by_id, place, start=start, end=end)


async def load_tariff_book(session: AsyncSession) -> TariffBook:
    found = await tariffs.list_tariffs(session)
    return TariffBook(await tariffs.list_assignments(session), {tariff.id: tariff for tariff in found})


async def costs_of(
    session: AsyncSession, transactions: Sequence[Transaction], *, now: datetime
) -> dict[int, PricedSession]:
    """The cost of each transaction that has one (a tariff was in force), by transaction id."""
    costs = await _frozen_costs(session, [t.id for t in transactions if t.stop_timestamp is not None])
    unpriced = [transaction for transaction in transactions if transaction.id not in costs]
    if unpriced:
        book = await load_tariff_book(session)
        for transaction in unpriced:
            cost = await _price(session, transaction, book, now=now)
            if cost is not None:
                costs[transaction.id] = PricedSession.of(cost)
    return costs


async def freeze_cost(
    session: AsyncSession, transaction_id: int, *, now: datetime, book: TariffBook | None = None
) -> PricedSession | None:
    """Price a stopped transaction once and keep the result; None while it runs or without a tariff."""
    if book is not None and not book.assignments:
        return None  # no tariff anywhere: nothing to price, no need to read the transaction
    transaction = await session.get(Transaction, transaction_id)
    if transaction is None or transaction.stop_timestamp is None:
        return None
    frozen = await _frozen_costs(session, [transaction_id])
    if transaction_id in frozen:
        return frozen[transaction_id]
    cost = await _price(session, transaction, book or await load_tariff_book(session), now=now)
    if cost is None:
        return None
    priced = PricedSession.of(cost)
    session.add(
        TransactionCost(
            transaction_id=transaction_id,
            currency=priced.currency,
            total=priced.total,
            breakdown=json.dumps(priced.breakdown),
            computed_at=now,
        )
    )
    await session.commit()
    return priced


async def usage_log(session: AsyncSession, transaction: Transaction, *, until: datetime) -> UsageLog:
    """The transaction's stored meter values and its connector's statuses while it was open."""
    log = UsageLog.starting(transaction.start_timestamp, transaction.meter_start)
    values = await session.scalars(
        select(MeterValue).where(MeterValue.transaction_id == transaction.id).order_by(MeterValue.timestamp)
    )
    for value in values:
        log.add_sampled(value.timestamp, value)
    statuses = await session.scalars(
        select(StatusNotification).where(
            StatusNotification.charge_point_id == transaction.charge_point_id,
            StatusNotification.connector_id == transaction.connector_id,
            StatusNotification.timestamp >= transaction.start_timestamp,
            StatusNotification.timestamp <= until,
        )
    )
    for status in statuses:
        log.add_status(status.timestamp, status.status)
    return log


async def place_of(session: AsyncSession, transaction: Transaction) -> tariffs.Place:
    return await tariffs.place_of(
        session,
        charge_point_id=transaction.charge_point_id,
        connector_id=transaction.connector_id,
        id_tag=transaction.id_tag,
    )


async def _price(session: AsyncSession, transaction: Transaction, book: TariffBook, *, now: datetime) -> Cost | None:
    if transaction.id_tag_status != ACCEPTED:
        return None  # a refused start (ConcurrentTx, Blocked...) was no charging session: nothing to bill
    end = transaction.stop_timestamp or max(now, transaction.start_timestamp)
    log = await usage_log(session, transaction, until=end)
    periods = book.periods(await place_of(session, transaction), start=transaction.start_timestamp, end=end)
    try:
        return session_cost(log.usage(end=end, meter_stop_wh=transaction.meter_stop), periods)
    except CostingError as error:
        logger.warning("transaction %s has no cost: %s", transaction.id, error)
        return None


async def _frozen_costs(session: AsyncSession, transaction_ids: list[int]) -> dict[int, PricedSession]:
    if not transaction_ids:
        return {}
    rows = await session.scalars(select(TransactionCost).where(TransactionCost.transaction_id.in_(transaction_ids)))
    return {
        row.transaction_id: PricedSession(currency=row.currency, total=row.total, breakdown=json.loads(row.breakdown))
        for row in rows
    }
