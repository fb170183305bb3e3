"""Roaming charges: the transactions started on an eMSP's token (an `ocpi_transaction_tokens` row), read with
what their Session and CDR tell (csms/ocpi/sessions.py, csms/ocpi/cdrs.py build those).

A charge is read from csms's own records only: the transaction, the token snapshot taken at its start, its cost
as services/session_costs.py prices it (frozen at the stop, so the CDR says what csms's own record says), the
location and EVSE the locations module publishes for its connector, and the signed meter values its charger sent.
Its OCPI session id (and CDR id) is the transaction id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import MeterValue, OcpiTransactionToken, Tariff, Transaction
from csms.services import ocpi_locations, session_costs, transactions
from csms.services.ocpi_locations import EvseView, LocationView
from csms.services.session_costs import PricedSession

SIGNED_DATA = "SignedData"


@dataclass(frozen=True, slots=True)
class SignedReading:
    """A signed meter value as the charger sent it: a 1.6 SignedData value, or a 2.x signedMeterValue."""

    at: datetime
    context: str | None
    plain: str | None
    signed: str
    encoding_method: str | None = None
    public_key: str | None = None


@dataclass(frozen=True, slots=True)
class RoamingCharge:
    transaction: Transaction
    token: OcpiTransactionToken
    cost: PricedSession | None
    location: LocationView | None
    evse: EvseView | None
    tariffs: tuple[Tariff, ...]
    signed: tuple[SignedReading, ...]

    @property
    def is_completed(self) -> bool:
        return self.transaction.stop_timestamp is not None

    @property
    def energy_wh(self) -> int:
        return transactions.energy_wh(self.transaction)

    @property
    def last_updated(self) -> datetime:
        return last_updated(self.transaction)

    @property
    def evse_number(self) -> int:
        """The connector (1.6) or EVSE (2.x) it ran on: an OCPI EVSE of the locations module."""
        transaction = self.transaction
        return transaction.evse_id if transaction.evse_id is not None else transaction.connector_id


def last_updated(transaction: Transaction) -> datetime:
    """A charge changes at its start, at each energy reading and at its stop."""
    moments = [transaction.start_timestamp, transaction.meter_last_at, transaction.stop_timestamp]
    return max(moment for moment in moments if moment is not None)


def _last_updated_column() -> ColumnElement[Any]:
    return func.coalesce(Transaction.stop_timestamp, Transaction.meter_last_at, Transaction.start_timestamp)


async def roaming_charge(session: AsyncSession, transaction_id: int, *, now: datetime) -> RoamingCharge | None:
    """The charge, or None when the transaction was not started on a roaming token."""
    row = (
        await session.execute(
            select(Transaction, OcpiTransactionToken)
            .join(OcpiTransactionToken, OcpiTransactionToken.transaction_id == Transaction.id)
            .where(Transaction.id == transaction_id)
        )
    ).first()
    if row is None:
        return None
    (charge,) = await _charges(session, [(row[0], row[1])], now=now)
    return charge


async def party_of(session: AsyncSession, transaction_id: int) -> int | None:
    """The party connection a roaming charge's Session and CDR go to; None for any other transaction."""
    return await session.scalar(
        select(OcpiTransactionToken.ocpi_party_key).where(OcpiTransactionToken.transaction_id == transaction_id)
    )


async def claim_cdr(session: AsyncSession, transaction_id: int, *, now: datetime) -> bool:
    """Mark the charge's CDR queued, in the caller's transaction; False when it was already (only one CDR is
    ever queued for a charge, whichever node or path gets there first)."""
    claimed = await session.execute(
        update(OcpiTransactionToken)
        .where(OcpiTransactionToken.transaction_id == transaction_id, OcpiTransactionToken.cdr_queued_at.is_(None))
        .values(cdr_queued_at=now)
    )
    return isinstance(claimed, CursorResult) and claimed.rowcount == 1


async def charges_without_cdr(session: AsyncSession, *, stopped_before: datetime) -> list[int]:
    """The roaming charges that stopped before `stopped_before` and have no CDR queued."""
    query = (
        select(OcpiTransactionToken.transaction_id)
        .join(Transaction, Transaction.id == OcpiTransactionToken.transaction_id)
        .where(
            OcpiTransactionToken.cdr_queued_at.is_(None),
            Transaction.stop_timestamp.is_not(None),
            Transaction.stop_timestamp < stopped_before,
        )
        .order_by(OcpiTransactionToken.transaction_id)
    )
    return list(await session.scalars(query))


async def page_of_charges(
    session: AsyncSession,
    *,
    party_key: int,
    owner: tuple[str, str],
    completed: bool,
    offset: int,
    limit: int,
    date_from: datetime | None,
    date_to: datetime | None,
    now: datetime,
) -> tuple[list[RoamingCharge], int]:
    """The charges on tokens of `owner` (country code, party id) that came through the party connection, by
    last_updated in [date_from, date_to); `completed`: only stopped ones (CDRs). With the total in the window."""
    updated = _last_updated_column()
    conditions: list[ColumnElement[bool]] = [
        OcpiTransactionToken.ocpi_party_key == party_key,
        func.upper(OcpiTransactionToken.country_code) == owner[0].upper(),
        func.upper(OcpiTransactionToken.party_id) == owner[1].upper(),
    ]
    if completed:
        conditions.append(Transaction.stop_timestamp.is_not(None))
    if date_from is not None:
        conditions.append(updated >= date_from)
    if date_to is not None:
        conditions.append(updated < date_to)
    joined = select(Transaction, OcpiTransactionToken).join(
        OcpiTransactionToken, OcpiTransactionToken.transaction_id == Transaction.id
    )
    total = await session.scalar(
        select(func.count())
        .select_from(Transaction)
        .join(OcpiTransactionToken, OcpiTransactionToken.transaction_id == Transaction.id)
        .where(*conditions)
    )
    rows = await session.execute(joined.where(*conditions).order_by(Transaction.id).offset(offset).limit(limit))
    pairs = [(transaction, token) for transaction, token in rows]
    return await _charges(session, pairs, now=now), int(total or 0)


async def _charges(
    session: AsyncSession, pairs: Sequence[tuple[Transaction, OcpiTransactionToken]], *, now: datetime
) -> list[RoamingCharge]:
    if not pairs:
        return []
    costs = await session_costs.costs_of(session, [transaction for transaction, _ in pairs], now=now)
    tariff_ids = {
        int(piece["tariff_id"])
        for cost in costs.values()
        for piece in cost.breakdown.get("slices", [])
        if piece.get("tariff_id") is not None
    }
    tariffs = {t.id: t for t in await session.scalars(select(Tariff).where(Tariff.id.in_(tariff_ids)))}
    places = await _places(session, {transaction.charge_point_id for transaction, _ in pairs}, now=now)
    charges = []
    for transaction, token in pairs:
        cost = costs.get(transaction.id)
        used = sorted({int(p["tariff_id"]) for p in (cost.breakdown["slices"] if cost else []) if p.get("tariff_id")})
        view = places.get(transaction.charge_point_id)
        number = transaction.evse_id if transaction.evse_id is not None else transaction.connector_id
        evse = None
        if view is not None:
            on_charger = (e for e in view.evses if e.charge_point_id == transaction.charge_point_id)
            evse = next((e for e in on_charger if e.connector_id == number), None)
        charges.append(
            RoamingCharge(
                transaction=transaction,
                token=token,
                cost=cost,
                location=view,
                evse=evse,
                tariffs=tuple(tariffs[i] for i in used if i in tariffs),
                signed=tuple(await _signed_readings(session, transaction.id)),
            )
        )
    return charges


async def _places(session: AsyncSession, charge_point_ids: set[str], *, now: datetime) -> dict[str, LocationView]:
    """The published location of each charger that is on one."""
    location_ids = {cp: await ocpi_locations.location_of(session, cp) for cp in charge_point_ids}
    wanted = sorted({location_id for location_id in location_ids.values() if location_id is not None})
    locations = [await ocpi_locations.get_location(session, location_id) for location_id in wanted]
    views = {view.location.id: view for view in await ocpi_locations.views_of(session, locations, now=now)}
    return {cp: views[location_id] for cp, location_id in location_ids.items() if location_id in views}


async def _signed_readings(session: AsyncSession, transaction_id: int) -> list[SignedReading]:
    """The transaction's signed meter values, oldest first, with the plain reading sent beside each (the same
    timestamp's energy register) when there is one."""
    values = list(
        await session.scalars(
            select(MeterValue).where(MeterValue.transaction_id == transaction_id).order_by(MeterValue.timestamp)
        )
    )
    plain = {
        (value.timestamp, value.context): value.value
        for value in values
        if value.format != SIGNED_DATA and value.signed_meter_value is None and value.phase is None
    }
    readings = []
    for value in values:
        if value.signed_meter_value is not None:
            signed = _json_object(value.signed_meter_value)
            data = signed.get("signedMeterData")
            if isinstance(data, str) and data:
                readings.append(
                    SignedReading(
                        at=value.timestamp,
                        context=value.context,
                        plain=value.value,
                        signed=data,
                        encoding_method=_text(signed.get("encodingMethod")),
                        public_key=_text(signed.get("publicKey")),
                    )
                )
        elif value.format == SIGNED_DATA and value.value:
            readings.append(
                SignedReading(
                    at=value.timestamp,
                    context=value.context,
                    plain=plain.get((value.timestamp, value.context)),
                    signed=value.value,
                )
            )
    return readings


def _json_object(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def decimal_of(text: Any) -> Decimal:
    return Decimal(str(text)) if text is not None else Decimal(0)
