"""Transactions a charger never closed: ended when its connector shows them over, by staff, or flagged stale.

A charger should end every transaction with a StopTransaction; real ones do not always (one whose
start was answered ConcurrentTx should send it with reason DeAuthorized, and many never do). Left
open, such a record would sit on its connector forever. csms ends what is still open on a connector
when the charger shows the connector is free: a new StartTransaction on it, a StatusNotification
Available for it, or a BootNotification (a charger ends its transactions when it reboots). It is
closed as "superseded" with the last meter reading csms has (meterStart without one), stopped at
that reading's time. Staff close any other open record through the API. If the charger's own
StopTransaction arrives later after all, its figures replace csms's (services/transactions.py).

Records with no message for longer than a setting are flagged stale (`stale_since`) for staff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.db.models import MeterValue, Transaction
from csms.services.errors import Conflict, InvalidInput, NotFound
from csms.services.transactions import CLOSED_BY_STAFF, SUPERSEDED, ClosedTransaction, closed_transaction

logger = logging.getLogger(__name__)

# The StopTransaction reason csms records when it closes a transaction itself (OCPP 1.6 §7.37).
REASON_OTHER = "Other"


async def close_superseded(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int | None,
    recorded_before: datetime,
    keep_id: int | None = None,
) -> list[ClosedTransaction]:
    """Close what is open on the connector (every connector: None) and was recorded before `recorded_before`.

    `recorded_before` is when csms received the message that shows the connector free: a start
    recorded after it is a new session, never one it ends. `keep_id` is the start that ends the others.
    """
    query = select(Transaction).where(
        Transaction.charge_point_id == charge_point_id,
        Transaction.stop_timestamp.is_(None),
        Transaction.created_at <= recorded_before,
    )
    if connector_id is not None:
        query = query.where(Transaction.connector_id == connector_id)
    if keep_id is not None:
        query = query.where(Transaction.id != keep_id)
    found = list((await session.scalars(query)).all())
    for transaction in found:
        _close(transaction, closed_by=SUPERSEDED, meter_stop=None, stopped_at=None)
    await session.commit()
    return [closed_transaction(transaction) for transaction in found]


async def close_by_staff(
    session: AsyncSession,
    transaction_id: int,
    *,
    meter_stop: int | None = None,
    stopped_at: datetime | None = None,
) -> ClosedTransaction:
    """Close an open transaction the charger never stopped; by default with its last meter reading."""
    transaction = await session.get(Transaction, transaction_id)
    if transaction is None:
        raise NotFound(f"transaction {transaction_id} not found")
    if transaction.stop_timestamp is not None:
        raise Conflict(f"transaction {transaction_id} has already stopped")
    if stopped_at is not None and stopped_at.tzinfo is None:
        raise InvalidInput("stop_timestamp needs a time zone (Z or an offset)")
    if stopped_at is not None and stopped_at < transaction.start_timestamp:
        raise InvalidInput("stop_timestamp must not be before the transaction's start")
    _close(transaction, closed_by=CLOSED_BY_STAFF, meter_stop=meter_stop, stopped_at=stopped_at)
    await session.commit()
    return closed_transaction(transaction)


def _close(transaction: Transaction, *, closed_by: str, meter_stop: int | None, stopped_at: datetime | None) -> None:
    last_wh = transaction.meter_last_wh if transaction.meter_last_wh is not None else transaction.meter_start
    transaction.meter_stop = last_wh if meter_stop is None else meter_stop
    transaction.meter_went_backwards = transaction.meter_went_backwards or transaction.meter_stop < last_wh
    last_heard = max(transaction.meter_last_at or transaction.start_timestamp, transaction.start_timestamp)
    transaction.stop_timestamp = stopped_at or last_heard
    transaction.stop_reason = REASON_OTHER
    transaction.closed_by = closed_by
    transaction.stale_since = None


async def flag_stale(session: AsyncSession, *, silent_for: timedelta, now: datetime) -> None:
    """Flag open transactions with no meter value (and no start) for longer than `silent_for`;
    unflag those that have been heard of since."""
    since = now - silent_for
    heard_since = exists().where(MeterValue.transaction_id == Transaction.id, MeterValue.timestamp >= since)
    is_open = Transaction.stop_timestamp.is_(None)
    await session.execute(
        update(Transaction)
        .where(is_open, Transaction.stale_since.is_(None), Transaction.start_timestamp < since, ~heard_since)
        .values(stale_since=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Transaction)
        .where(is_open, Transaction.stale_since.is_not(None), heard_since)
        .values(stale_since=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def sweep_stale_periodically(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    silent_for: float,
    check_interval: float,
    clock: Callable[[], datetime],
) -> None:
    """`flag_stale` every `check_interval` seconds; every node may run it, the updates are idempotent."""
    while True:
        await asyncio.sleep(check_interval)
        try:
            async with session_factory() as session:
                await flag_stale(session, silent_for=timedelta(seconds=silent_for), now=clock())
        except DATABASE_UNREACHABLE as error:
            logger.warning("stale-transaction sweep skipped: %s", error)
