"""Settlements of ad hoc payments (OCPP 2.1 C18-C24): what a station's payment terminal settled, kept per
charger for the operator to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Settlement as SettlementRow


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    psp_ref: str  # the payment service provider's reference, the transaction's idToken
    status: str  # Settled, Canceled, Rejected or Failed
    amount: Decimal
    settled_at: datetime
    transaction_key: str | None = None  # the station's transactionId
    transaction_id: int | None = None  # csms's transaction of that key, when it has one
    reason_code: str | None = None
    receipt_id: str | None = None
    receipt_url: str | None = None
    vat_number: str | None = None
    vat_company: str | None = None  # the VAT number's company address, JSON


async def record_settlement(
    session: AsyncSession, charge_point_id: str, settlement: Settlement, *, now: datetime
) -> int:
    """Keep a settlement the charger reported; its id."""
    row = SettlementRow(
        charge_point_id=charge_point_id,
        transaction_id=settlement.transaction_id,
        transaction_key=settlement.transaction_key,
        psp_ref=settlement.psp_ref,
        status=settlement.status,
        amount=settlement.amount,
        settled_at=settlement.settled_at,
        reason_code=settlement.reason_code,
        receipt_id=settlement.receipt_id,
        receipt_url=settlement.receipt_url,
        vat_number=settlement.vat_number,
        vat_company=settlement.vat_company,
        received_at=now,
    )
    session.add(row)
    await session.commit()
    return row.id


async def list_settlements(session: AsyncSession, charge_point_id: str, *, limit: int) -> list[SettlementRow]:
    """The charger's settlements, newest first."""
    query = (
        select(SettlementRow)
        .where(SettlementRow.charge_point_id == charge_point_id)
        .order_by(SettlementRow.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
