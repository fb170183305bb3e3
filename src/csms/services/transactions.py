"""Charging transactions and their meter values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from csms.db.batch_writer import BatchWriter
from csms.db.models import MeterValue, Transaction, TransactionCost
from csms.db.sqlite_thread import Part
from csms.db.write_journal import journaled
from csms.services import ocpi_tokens
from csms.services.costing import energy_register_wh
from csms.services.id_tags import ACCEPTED, IdTagInfo, answer_for_tag
from csms.services.tag_directory import TagDirectory

ENERGY_REGISTER = "Energy.Active.Import.Register"
# Who closed a transaction (Transaction.closed_by).
CLOSED_BY_CHARGER = "charger"
SUPERSEDED = "superseded"
CLOSED_BY_STAFF = "staff"
# Closed by csms, not by the charger: a StopTransaction that arrives later still corrects the record.
CLOSED_BY_CSMS = (SUPERSEDED, CLOSED_BY_STAFF)


@dataclass(frozen=True, slots=True)
class SampledValue:
    value: str
    measurand: str = ENERGY_REGISTER
    unit: str | None = None
    phase: str | None = None
    context: str | None = None
    location: str | None = None
    format: str | None = None
    signed_meter_value: str | None = None  # 2.x: the signedMeterValue object as sent, JSON


@dataclass(frozen=True, slots=True)
class MeterSample:
    timestamp: datetime
    sampled_values: list[SampledValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StartedTransaction:
    transaction: TransactionRef
    id_tag_info: IdTagInfo
    vehicle_id: int | None
    is_repeat: bool = False
    """The charger sent this start before: `transaction` is the one recorded then, with its history."""


@dataclass(frozen=True, slots=True)
class ClosedTransaction:
    """A transaction a StopTransaction just closed."""

    id: int
    charge_point_id: str
    connector_id: int
    user_id: int | None
    meter_start: int
    meter_stop: int
    stop_reason: str
    closed_by: str = CLOSED_BY_CHARGER
    is_accepted: bool = True
    """Its start was answered Accepted: it was a charging session, not only a refused attempt."""

    @property
    def energy_wh(self) -> int:
        """Never negative: a meter that went backwards books no energy (the readings are kept as sent)."""
        return max(0, self.meter_stop - self.meter_start)


async def start_transaction(
    engine: AsyncEngine,
    writer: BatchWriter,
    tags: TagDirectory,
    *,
    transaction_id: int,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None,
    now: datetime,
    charger_key: ChargerTransactionKey | None = None,
) -> StartedTransaction:
    """Record a StartTransaction as `transaction_id` and check its idTag again on the server.

    A charger that lost our answer sends the same StartTransaction again after reconnecting. The
    database refuses the second row (a start is unique per charger, connector, time, idTag and meter
    reading; a 2.x transaction per station and its own transactionId), and the charger gets the id it
    was given the first time: no transaction is recorded twice. So a 2.x station's Started needs no read
    before it is recorded.
    """
    id_token_type = charger_key.id_token_type if charger_key is not None else None
    starting_on = (charge_point_id, connector_id)
    if id_token_type in STATION_AUTHORIZED:
        known, info = None, IdTagInfo(status=ACCEPTED)
    else:
        known = await tags.lookup(id_tag)
        info = await answer_for_tag(tags, id_tag, known, now=now, starting_on=starting_on, id_token_type=id_token_type)
    user_id, vehicle_id = (known.user_id, known.vehicle_id) if known is not None else (None, None)
    try:
        started = await record_start(
            writer,
            transaction_id=transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            id_tag_status=info.status,
            user_id=user_id,
            vehicle_id=vehicle_id,
            meter_start=meter_start,
            timestamp=timestamp,
            reservation_id=reservation_id,
            now=now,
            charger_key=charger_key,
        )
    except IntegrityError:
        duplicate = await _find_repeated_start(
            engine, charge_point_id, connector_id, id_tag, meter_start, timestamp, charger_key
        )
        if duplicate is None:
            raise
        if id_token_type not in STATION_AUTHORIZED:
            info = await answer_for_tag(
                tags,
                id_tag,
                known,
                now=now,
                ignore_transaction_id=duplicate.id,
                starting_on=starting_on,
                id_token_type=id_token_type,
            )
        return StartedTransaction(duplicate, info, vehicle_id, is_repeat=True)
    await _record_roaming(writer, started.id, info, now=now)
    return StartedTransaction(started, info, vehicle_id)


# The 2.x token type of a transaction the station started without authorizing anyone (free vend): it is
# charging, with no driver.
FREE_VEND = "NoAuthorization"
# 2.1's token of a payment terminal that authorized a card (ad hoc payment): its value is the payment
# provider's reference, which csms has nothing to check against. Accepted, with no driver, as free vend.
DIRECT_PAYMENT = "DirectPayment"
# Token types the station vouches for itself: csms accepts them unchecked.
STATION_AUTHORIZED = frozenset({FREE_VEND, DIRECT_PAYMENT})

_AUTHORIZE_LATER = journaled(
    "transaction.authorize_later",
    update(Transaction)
    .where(Transaction.id == bindparam("transaction"), Transaction.id_tag == bindparam("no_token"))
    .values(
        id_tag=bindparam("tag"),
        id_token_type=bindparam("tag_type"),
        id_tag_status=bindparam("tag_status"),
        user_id=bindparam("user"),
        vehicle_id=bindparam("vehicle"),
    )
    .execution_options(synchronize_session=False),
)


async def authorize_later(
    writer: BatchWriter,
    tags: TagDirectory,
    ref: TransactionRef,
    *,
    id_tag: str,
    id_token_type: str | None,
    no_token: str,
    now: datetime,
) -> IdTagInfo:
    """A token presented after the transaction began (a 2.x station that starts on plug-in): checked as
    a start's would be, and, if it is the transaction's first, made its token, driver and vehicle.

    `ref` follows: an accepted token makes the transaction a charging session of its driver.
    """
    if id_token_type in STATION_AUTHORIZED:
        known, info = None, IdTagInfo(status=ACCEPTED)
    else:
        known = await tags.lookup(id_tag)
        info = await answer_for_tag(
            tags,
            id_tag,
            known,
            now=now,
            ignore_transaction_id=ref.id,
            starting_on=(ref.charge_point_id, ref.connector_id),
            id_token_type=id_token_type,
        )
    user_id, vehicle_id = (known.user_id, known.vehicle_id) if known is not None else (None, None)
    row = {
        "transaction": ref.id,
        "no_token": no_token,
        "tag": id_tag,
        "tag_type": id_token_type,
        "tag_status": info.status,
        "user": user_id,
        "vehicle": vehicle_id,
    }
    await writer.write((_AUTHORIZE_LATER, [row]))
    await _record_roaming(writer, ref.id, info, now=now)
    ref.user_id, ref.is_accepted = user_id, info.status == ACCEPTED
    return info


async def _record_roaming(writer: BatchWriter, transaction_id: int, info: IdTagInfo, *, now: datetime) -> None:
    """A charge on a roaming token records whose it is: its eMSP gets the session and the CDR."""
    if info.roaming is not None and info.status == ACCEPTED:
        await writer.write(ocpi_tokens.transaction_token_part(transaction_id, info.roaming, now=now))


async def _find_repeated_start(
    engine: AsyncEngine,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    charger_key: ChargerTransactionKey | None,
) -> TransactionRef | None:
    if charger_key is not None and charger_key.key is not None:
        keyed = await find_transaction_by_key(engine, charge_point_id, charger_key.key)
        return keyed.ref if keyed is not None else None
    query = select(*_REF_COLUMNS).where(
        Transaction.charge_point_id == charge_point_id,
        Transaction.connector_id == connector_id,
        Transaction.start_timestamp == timestamp,
        Transaction.id_tag == id_tag,
        Transaction.meter_start == meter_start,
    )
    async with engine.connect() as connection:
        row = (await connection.execute(query.limit(1))).first()
    return _ref_from(row) if row is not None else None


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
) -> ClosedTransaction | None:
    """Close a transaction of this charger, reading it first: for a transaction the connection does not know.

    Unknown ids and other chargers' transactions change nothing, and give None. The charger is still
    answered normally (OCPP 1.6 §6.51: the Central System must always answer StopTransaction, or the
    charger keeps it queued forever). A transaction csms closed (superseded, or by staff) takes the
    charger's own figures: they are the true ones, and its frozen cost is priced again.
    """
    transaction = await session.get(Transaction, transaction_id)
    if transaction is None or transaction.charge_point_id != charge_point_id or not _may_stop(transaction):
        return None
    if transaction.stop_timestamp is not None:
        await session.execute(delete(TransactionCost).where(TransactionCost.transaction_id == transaction.id))
    transaction.meter_went_backwards = transaction.meter_went_backwards or meter_stop < (
        transaction.meter_last_wh if transaction.meter_last_wh is not None else transaction.meter_start
    )
    transaction.meter_stop = meter_stop
    transaction.stop_timestamp = timestamp
    transaction.stop_reason = reason or "Local"
    transaction.stop_id_tag = id_tag
    transaction.closed_by = CLOSED_BY_CHARGER
    transaction.stale_since = None
    _add_meter_samples(
        session,
        charge_point_id=charge_point_id,
        connector_id=transaction.connector_id,
        transaction_id=transaction.id,
        samples=transaction_data,
    )
    await session.commit()
    return _closed(transaction_ref(transaction), meter_stop, transaction.stop_reason)


def _may_stop(transaction: Transaction) -> bool:
    return transaction.stop_timestamp is None or transaction.closed_by in CLOSED_BY_CSMS


def _closed(ref: TransactionRef, meter_stop: int, reason: str, closed_by: str = CLOSED_BY_CHARGER) -> ClosedTransaction:
    return ClosedTransaction(
        id=ref.id,
        charge_point_id=ref.charge_point_id,
        connector_id=ref.connector_id,
        user_id=ref.user_id,
        meter_start=ref.meter_start,
        meter_stop=meter_stop,
        stop_reason=reason,
        closed_by=closed_by,
        is_accepted=ref.is_accepted,
    )


def closed_transaction(transaction: Transaction) -> ClosedTransaction:
    """A stored transaction that has just been closed, as the stop hooks take it."""
    if transaction.meter_stop is None or transaction.stop_reason is None:
        raise ValueError(f"transaction {transaction.id} is still open")
    closed_by = transaction.closed_by or CLOSED_BY_CHARGER
    return _closed(transaction_ref(transaction), transaction.meter_stop, transaction.stop_reason, closed_by)


@dataclass(slots=True)
class TransactionRef:
    """What a charger's connection remembers of one of its transactions, to link meter values cheaply."""

    id: int
    charge_point_id: str
    connector_id: int
    user_id: int | None
    meter_start: int
    meter_last_wh: int | None = None
    meter_last_at: datetime | None = None
    is_open: bool = True
    is_accepted: bool = True
    """Its start was answered Accepted; only such a transaction counts as charging."""
    transaction_key: str | None = None
    """The charger's own id of it (2.x transactionId); None for 1.6."""

    @property
    def energy_wh(self) -> int:
        return max(0, self.meter_last_wh - self.meter_start) if self.meter_last_wh is not None else 0


def transaction_ref(transaction: Transaction) -> TransactionRef:
    return TransactionRef(
        id=transaction.id,
        charge_point_id=transaction.charge_point_id,
        connector_id=transaction.connector_id,
        user_id=transaction.user_id,
        meter_start=transaction.meter_start,
        meter_last_wh=transaction.meter_last_wh,
        meter_last_at=transaction.meter_last_at,
        is_open=transaction.stop_timestamp is None,
        is_accepted=transaction.id_tag_status == ACCEPTED,
        transaction_key=transaction.transaction_key,
    )


_REF_COLUMNS = (
    Transaction.id,
    Transaction.charge_point_id,
    Transaction.connector_id,
    Transaction.user_id,
    Transaction.meter_start,
    Transaction.meter_last_wh,
    Transaction.meter_last_at,
    Transaction.stop_timestamp.is_(None),
    Transaction.id_tag_status == ACCEPTED,
    Transaction.transaction_key,
)


def _ref_from(row: Any) -> TransactionRef:
    """A TransactionRef from a row of _REF_COLUMNS."""
    id_, charge_point_id, connector_id, user_id, meter_start, last_wh, last_at, is_open, is_accepted, key = row
    return TransactionRef(
        id_, charge_point_id, connector_id, user_id, meter_start, last_wh, last_at, is_open, is_accepted, key
    )


@dataclass(frozen=True, slots=True)
class KeyedTransaction:
    """A 2.x station's transaction as csms has it: its ref, and the token and time it began with."""

    ref: TransactionRef
    id_tag: str
    started_at: datetime


async def find_transaction_by_key(engine: AsyncEngine, charge_point_id: str, key: str) -> KeyedTransaction | None:
    """The transaction a 2.x station names `key`, if csms has it."""
    query = select(*_REF_COLUMNS, Transaction.id_tag, Transaction.start_timestamp).where(
        Transaction.charge_point_id == charge_point_id, Transaction.transaction_key == key
    )
    async with engine.connect() as connection:
        row = (await connection.execute(query)).first()
    if row is None:
        return None
    *ref_columns, id_tag, started_at = row
    return KeyedTransaction(_ref_from(ref_columns), id_tag, started_at)


async def find_transaction_ref(engine: AsyncEngine, transaction_id: int) -> TransactionRef | None:
    async with engine.connect() as connection:
        row = (await connection.execute(select(*_REF_COLUMNS).where(Transaction.id == transaction_id))).first()
    return _ref_from(row) if row is not None else None


# A journal of held writes from before 0023 has rows without signed_meter_value: they get NULL.
_INSERT_METER_VALUE = journaled(
    "meter_value.insert", insert(MeterValue).values(signed_meter_value=bindparam("signed_meter_value", value=None))
)
_ADVANCE_METER = journaled(
    "transaction.advance_meter",
    update(Transaction)
    .where(
        Transaction.id == bindparam("transaction"),
        or_(Transaction.meter_last_at.is_(None), Transaction.meter_last_at <= bindparam("at")),
    )
    .values(
        meter_last_wh=bindparam("wh"),
        meter_last_at=bindparam("at"),
        meter_went_backwards=or_(
            Transaction.meter_went_backwards,
            bindparam("wh") < func.coalesce(Transaction.meter_last_wh, Transaction.meter_start),
        ),
    )
    .execution_options(synchronize_session=False),
)


async def add_meter_values(
    writer: BatchWriter,
    *,
    charge_point_id: str,
    connector_id: int,
    transaction: TransactionRef | None,
    samples: list[MeterSample],
) -> None:
    """Store every sampled value, linked to `transaction` when it is this charger's.

    The newest energy register reading moves the transaction's "energy so far"; late samples (older
    timestamps) never move it back. A newest reading below the one before it (or below meterStart)
    flags the transaction: the meter went backwards.
    """
    writes = MeterValueWrites.of(charge_point_id, connector_id, transaction, samples)
    await writer.write(*writes.parts)
    writes.written()


@dataclass(frozen=True, slots=True)
class MeterValueWrites:
    """What storing some samples writes, for a caller that commits it with other writes of its own:
    `parts` for the writer, then `written()` once they are committed."""

    parts: tuple[Part, ...]
    transaction: TransactionRef | None
    advance: dict[str, Any] | None

    @classmethod
    def of(
        cls, charge_point_id: str, connector_id: int, transaction: TransactionRef | None, samples: list[MeterSample]
    ) -> MeterValueWrites:
        if transaction is not None and transaction.charge_point_id != charge_point_id:
            transaction = None
        rows = _meter_rows(charge_point_id, connector_id, transaction.id if transaction else None, samples)
        advance = _newest_reading(transaction, samples) if transaction else None
        parts: tuple[Part, ...] = ((_INSERT_METER_VALUE, rows), (_ADVANCE_METER, [advance] if advance else []))
        return cls(parts, transaction, advance)

    def written(self) -> None:
        """The transaction's energy so far follows the newest reading."""
        if self.transaction is not None and self.advance is not None:
            self.transaction.meter_last_wh, self.transaction.meter_last_at = self.advance["wh"], self.advance["at"]


def _newest_reading(transaction: TransactionRef, samples: list[MeterSample]) -> dict[str, Any] | None:
    newest: dict[str, Any] | None = None
    for sample in samples:
        reading = register_wh(sample.sampled_values)
        is_newer = transaction.meter_last_at is None or sample.timestamp >= transaction.meter_last_at
        if reading is not None and is_newer and (newest is None or sample.timestamp >= newest["at"]):
            newest = {"transaction": transaction.id, "wh": reading, "at": sample.timestamp}
    return newest


def _meter_rows(
    charge_point_id: str, connector_id: int, transaction_id: int | None, samples: list[MeterSample]
) -> list[dict[str, Any]]:
    """One row of `meter_values` per sampled value."""
    return [
        _meter_row(charge_point_id, connector_id, transaction_id, sample, sampled)
        for sample in samples
        for sampled in sample.sampled_values
    ]


def _meter_row(
    charge_point_id: str, connector_id: int, transaction_id: int | None, sample: MeterSample, sampled: SampledValue
) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "transaction_id": transaction_id,
        "timestamp": sample.timestamp,
        "value": sampled.value,
        "measurand": sampled.measurand,
        "unit": sampled.unit,
        "phase": sampled.phase,
        "context": sampled.context,
        "location": sampled.location,
        "format": sampled.format,
        "signed_meter_value": sampled.signed_meter_value,
    }


def latest_power_w(samples: list[MeterSample]) -> float | None:
    """The newest total active import power in W, if the charger sampled it."""
    for sample in sorted(samples, key=lambda sample: sample.timestamp, reverse=True):
        for sampled in sample.sampled_values:
            if sampled.measurand == "Power.Active.Import" and sampled.phase is None:
                try:
                    watts = float(sampled.value)
                except ValueError:
                    return None
                return watts * 1000 if sampled.unit == "kW" else watts
    return None


def register_wh(sampled_values: list[SampledValue]) -> int | None:
    """The total energy register reading among `sampled_values`, in Wh; None without one, or for a value no
    meter reads (not a number, NaN, infinite, or beyond the 64-bit Wh csms counts in: kept as sent, never
    counted)."""
    for sampled in sampled_values:
        if sampled.measurand == ENERGY_REGISTER and sampled.phase is None and sampled.format != "SignedData":
            return energy_register_wh(sampled)
    return None


def _add_meter_samples(
    session: AsyncSession,
    *,
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    samples: list[MeterSample],
) -> None:
    session.add_all(MeterValue(**row) for row in _meter_rows(charge_point_id, connector_id, transaction_id, samples))


_INSERT_TRANSACTION = journaled("transaction.insert", insert(Transaction))


@dataclass(frozen=True, slots=True)
class ChargerTransactionKey:
    """A 2.x station's own account of a transaction at its start: its transactionId (`key`), EVSE,
    token type, the remote start it answers and the event's seqNo."""

    key: str | None
    evse_id: int
    id_token_type: str | None = None
    remote_start_id: int | None = None
    charging_state: str | None = None
    seq_no: int | None = None


async def record_start(
    writer: BatchWriter,
    *,
    transaction_id: int,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    id_tag_status: str,
    user_id: int | None,
    vehicle_id: int | None,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None,
    now: datetime,
    charger_key: ChargerTransactionKey | None = None,
) -> TransactionRef:
    """Write a start under an id reserved in advance, with its idTag already checked; no read.

    While the database is unreachable the row waits with the other held writes until it returns.
    `charger_key` is what a 2.x station says of the transaction itself; None for 1.6.
    """
    key = charger_key or ChargerTransactionKey(key=None, evse_id=connector_id)  # 1.6: each connector an EVSE
    row = {
        "id": transaction_id,
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "evse_id": key.evse_id,
        "transaction_key": key.key,
        "id_token_type": key.id_token_type,
        "remote_start_id": key.remote_start_id,
        "charging_state": key.charging_state,
        "last_seq_no": key.seq_no,
        "id_tag": id_tag,
        "id_tag_status": id_tag_status,
        "user_id": user_id,
        "vehicle_id": vehicle_id,
        "reservation_id": reservation_id,
        "meter_start": meter_start,
        "start_timestamp": timestamp,
        "created_at": now,
    }
    await writer.write((_INSERT_TRANSACTION, [row]))
    return TransactionRef(
        transaction_id,
        charge_point_id,
        connector_id,
        user_id,
        meter_start,
        is_accepted=id_tag_status == ACCEPTED,
        transaction_key=key.key,
    )


# Written as = ... OR, not IN: the batch writer runs these statements for many rows at once (journaled()).
_CLOSED_BY_CSMS = or_(*(Transaction.closed_by == closed_by for closed_by in CLOSED_BY_CSMS))
_STOPPABLE = or_(Transaction.stop_timestamp.is_(None), _CLOSED_BY_CSMS)
_CLOSE = journaled(
    "transaction.close",
    update(Transaction)
    .where(
        Transaction.id == bindparam("transaction"),
        Transaction.charge_point_id == bindparam("charger"),
        _STOPPABLE,
    )
    .values(
        meter_stop=bindparam("stop_meter"),
        stop_timestamp=bindparam("stop_at"),
        stop_reason=bindparam("stop_why"),
        stop_id_tag=bindparam("stop_tag"),
        closed_by=CLOSED_BY_CHARGER,
        stale_since=None,
        meter_went_backwards=or_(
            Transaction.meter_went_backwards,
            bindparam("stop_meter") < func.coalesce(Transaction.meter_last_wh, Transaction.meter_start),
        ),
    )
    .execution_options(synchronize_session=False),
)
# A record csms closed has a frozen cost; the charger's late StopTransaction has it priced again.
_FORGET_CORRECTED_COST = journaled(
    "transaction_cost.forget_corrected",
    delete(TransactionCost).where(
        TransactionCost.transaction_id == bindparam("transaction"),
        TransactionCost.transaction_id.in_(
            select(Transaction.id).where(
                Transaction.id == bindparam("transaction"),
                Transaction.charge_point_id == bindparam("charger"),
                _CLOSED_BY_CSMS,
            )
        ),
    ),
)


async def record_stop(
    writer: BatchWriter,
    *,
    charge_point_id: str,
    transaction_id: int,
    known: TransactionRef | None,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    id_tag: str | None,
    transaction_data: list[MeterSample],
) -> ClosedTransaction | None:
    """Close a transaction without reading first: one this connection knows, or any while the database
    is unreachable (the write then waits with the others until it returns).

    The update only touches an open transaction of this charger (or one csms closed, which the
    charger's figures correct), and meter values are linked only to a transaction this connection
    knows. Gives the closed transaction when the connection knew it.
    """
    stop_reason = reason or "Local"
    close = {
        "transaction": transaction_id,
        "charger": charge_point_id,
        "stop_meter": meter_stop,
        "stop_at": timestamp,
        "stop_why": stop_reason,
        "stop_tag": id_tag,
    }
    is_ours = known is not None and known.charge_point_id == charge_point_id
    connector_id = known.connector_id if known is not None and is_ours else 0
    rows = _meter_rows(charge_point_id, connector_id, transaction_id if is_ours else None, transaction_data)
    forget = [{"transaction": transaction_id, "charger": charge_point_id}]
    await writer.write((_FORGET_CORRECTED_COST, forget), (_CLOSE, [close]), (_INSERT_METER_VALUE, rows))
    return _closed(known, meter_stop, stop_reason) if known is not None and is_ours else None


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
    """Energy delivered: meterStop - meterStart, or so far from the newest energy register reading.

    Never negative: a meter that went backwards (the record is flagged) books no energy.
    """
    if transaction.meter_stop is not None:
        return max(0, transaction.meter_stop - transaction.meter_start)
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
    id_tag: str | None = None
    is_open: bool | None = None


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
    if where.id_tag is not None:
        query = query.where(Transaction.id_tag == where.id_tag)
    if where.is_open is not None:
        stop = Transaction.stop_timestamp
        query = query.where(stop.is_(None) if where.is_open else stop.is_not(None))
    return query


def _ordered(query: Select[Any], order: str) -> Select[Any]:
    if order == "oldest":
        return query.order_by(Transaction.start_timestamp, Transaction.id)
    if order == "energy":
        # As energy_wh(): meterStop, else the newest reading; a meter gone backwards books none.
        reached = func.coalesce(Transaction.meter_stop, Transaction.meter_last_wh, Transaction.meter_start)
        energy = case((reached > Transaction.meter_start, reached - Transaction.meter_start), else_=0)
        return query.order_by(energy.desc(), Transaction.id.desc())
    return query.order_by(Transaction.start_timestamp.desc(), Transaction.id.desc())


async def list_transactions(
    session: AsyncSession, where: TransactionFilter, *, limit: int = 50, offset: int = 0, order: str = "newest"
) -> list[Transaction]:
    """Newest first; `order` "oldest" puts the oldest start first, "energy" the most energy."""
    query = _ordered(_filtered(select(Transaction), where), order).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def count_transactions(session: AsyncSession, where: TransactionFilter) -> int:
    return int(await session.scalar(_filtered(select(func.count(Transaction.id)), where)) or 0)
