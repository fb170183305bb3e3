"""Charging transactions and their meter values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import MeterValue, Transaction
from csms.services.id_tags import IdTagInfo, authorize_id_tag, find_id_tag

ENERGY_REGISTER = "Energy.Active.Import.Register"


@dataclass(frozen=True, slots=True)
class SampledValue:
    value: str
    measurand: str = ENERGY_REGISTER
    unit: str | None = None
    phase: str | None = None
    context: str | None = None
    location: str | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class MeterSample:
    timestamp: datetime
    sampled_values: list[SampledValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StartedTransaction:
    transaction_id: int
    id_tag_info: IdTagInfo


async def start_transaction(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None,
    now: datetime,
) -> StartedTransaction:
    """Record a StartTransaction and check its idTag again on the server.

    A charger that lost our answer sends the same StartTransaction again after reconnecting; it gets
    the transaction id it was given the first time, so no transaction is recorded twice.
    """
    duplicate = await _find_identical_start(session, charge_point_id, connector_id, id_tag, meter_start, timestamp)
    if duplicate is not None:
        info = await authorize_id_tag(session, id_tag, now=now, ignore_transaction_id=duplicate.id)
        return StartedTransaction(duplicate.id, info)
    info = await authorize_id_tag(session, id_tag, now=now)
    tag = await find_id_tag(session, id_tag)
    transaction = Transaction(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
        id_tag_status=info.status,
        user_id=tag.user_id if tag else None,
        vehicle_id=tag.vehicle_id if tag else None,
        reservation_id=reservation_id,
        meter_start=meter_start,
        start_timestamp=timestamp,
        created_at=now,
    )
    session.add(transaction)
    await session.commit()
    return StartedTransaction(transaction.id, info)


async def _find_identical_start(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
) -> Transaction | None:
    query = select(Transaction).where(
        Transaction.charge_point_id == charge_point_id,
        Transaction.connector_id == connector_id,
        Transaction.start_timestamp == timestamp,
        Transaction.id_tag == id_tag,
        Transaction.meter_start == meter_start,
    )
    return (await session.scalars(query.limit(1))).first()


async def stop_transaction(
    session: AsyncSession,
    *,
    charge_point_id: str,
    transaction_id: int,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    id_tag: str | None,
    transaction_data: list[MeterSample],
    now: datetime,
) -> IdTagInfo | None:
    """Close a transaction of this charger. Unknown ids and other chargers' transactions change nothing.

    The charger is still answered normally (OCPP 1.6 §6.51: the Central System must always answer
    StopTransaction, or the charger keeps it queued forever).
    """
    transaction = await session.get(Transaction, transaction_id)
    is_ours = transaction is not None and transaction.charge_point_id == charge_point_id
    if transaction is not None and is_ours and transaction.stop_timestamp is None:
        transaction.meter_stop = meter_stop
        transaction.stop_timestamp = timestamp
        transaction.stop_reason = reason or "Local"
        transaction.stop_id_tag = id_tag
        _add_meter_samples(
            session,
            charge_point_id=charge_point_id,
            connector_id=transaction.connector_id,
            transaction_id=transaction.id,
            samples=transaction_data,
        )
    info = await authorize_id_tag(session, id_tag, now=now) if id_tag else None
    await session.commit()
    return info


async def add_meter_values(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    samples: list[MeterSample],
) -> None:
    """Store every sampled value; a transaction id of another charger is not linked to."""
    if transaction_id is not None:
        transaction = await session.get(Transaction, transaction_id)
        if transaction is None or transaction.charge_point_id != charge_point_id:
            transaction_id = None
        else:
            _track_latest_register(transaction, samples)
    _add_meter_samples(
        session,
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        transaction_id=transaction_id,
        samples=samples,
    )
    await session.commit()


def _track_latest_register(transaction: Transaction, samples: list[MeterSample]) -> None:
    """Remember the newest energy reading; late samples (older timestamps) never move it back."""
    for sample in samples:
        reading = _register_wh(sample.sampled_values)
        if reading is None:
            continue
        if transaction.meter_last_at is None or sample.timestamp >= transaction.meter_last_at:
            transaction.meter_last_wh = reading
            transaction.meter_last_at = sample.timestamp


def _register_wh(sampled_values: list[SampledValue]) -> int | None:
    for sampled in sampled_values:
        if sampled.measurand != ENERGY_REGISTER or sampled.phase is not None or sampled.format == "SignedData":
            continue
        try:
            reading = Decimal(sampled.value)
        except InvalidOperation:
            return None
        return int(reading * 1000) if sampled.unit == "kWh" else int(reading)
    return None


def _add_meter_samples(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    samples: list[MeterSample],
) -> None:
    session.add_all(
        MeterValue(
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            transaction_id=transaction_id,
            timestamp=sample.timestamp,
            value=sampled.value,
            measurand=sampled.measurand,
            unit=sampled.unit,
            phase=sampled.phase,
            context=sampled.context,
            location=sampled.location,
            format=sampled.format,
        )
        for sample in samples
        for sampled in sample.sampled_values
    )


async def get_transaction(session: AsyncSession, transaction_id: int) -> Transaction | None:
    return await session.get(Transaction, transaction_id)


async def list_meter_values(session: AsyncSession, transaction_id: int) -> list[MeterValue]:
    query = (
        select(MeterValue)
        .where(MeterValue.transaction_id == transaction_id)
        .order_by(MeterValue.timestamp, MeterValue.id)
    )
    return list((await session.scalars(query)).all())


def energy_wh(transaction: Transaction) -> int:
    """Energy delivered: meterStop - meterStart, or so far from the newest energy register reading."""
    if transaction.meter_stop is not None:
        return transaction.meter_stop - transaction.meter_start
    if transaction.meter_last_wh is None:
        return 0
    return max(0, transaction.meter_last_wh - transaction.meter_start)


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    user_id: int | None = None
    charge_point_id: str | None = None
    vehicle_id: int | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None


def _filtered(query: Select[Any], where: TransactionFilter) -> Select[Any]:
    if where.user_id is not None:
        query = query.where(Transaction.user_id == where.user_id)
    if where.charge_point_id is not None:
        query = query.where(Transaction.charge_point_id == where.charge_point_id)
    if where.vehicle_id is not None:
        query = query.where(Transaction.vehicle_id == where.vehicle_id)
    if where.started_from is not None:
        query = query.where(Transaction.start_timestamp >= where.started_from)
    if where.started_before is not None:
        query = query.where(Transaction.start_timestamp < where.started_before)
    return query


async def list_transactions(
    session: AsyncSession, where: TransactionFilter, *, limit: int = 50, offset: int = 0
) -> list[Transaction]:
    """Newest first."""
    query = _filtered(select(Transaction), where)
    query = query.order_by(Transaction.start_timestamp.desc(), Transaction.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def count_transactions(session: AsyncSession, where: TransactionFilter) -> int:
    return int(await session.scalar(_filtered(select(func.count(Transaction.id)), where)) or 0)
