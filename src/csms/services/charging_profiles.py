"""Charging profiles a charger accepted (OCPP 1.6 §3.13, 2.0.1 block K), kept per charger and
connector (1.6) or EVSE (2.x) in csms's version-neutral form."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import ChargingProfile, Transaction
from csms.domain.commands import ChargingProfileValue, ClearChargingProfile, profile_from


async def record_set(
    session: AsyncSession, charge_point_id: str, connector_id: int, profile: ChargingProfileValue, *, now: datetime
) -> ChargingProfile:
    """Keep an accepted profile. As on the charger (1.6 §3.13.2, 2.0.1 K01.FR.05), it replaces the profile
    with its id and the one with its stack level and purpose on its connector."""
    stored = await keep_set(session, charge_point_id, connector_id, profile, now=now)
    await session.commit()
    return stored


async def keep_set(
    session: AsyncSession, charge_point_id: str, connector_id: int, profile: ChargingProfileValue, *, now: datetime
) -> ChargingProfile:
    """`record_set` within the caller's transaction, for one that keeps several profiles in one commit."""
    await session.execute(
        delete(ChargingProfile).where(
            ChargingProfile.charge_point_id == charge_point_id,
            or_(
                ChargingProfile.charging_profile_id == profile.profile_id,
                (ChargingProfile.connector_id == connector_id)
                & (ChargingProfile.stack_level == profile.stack_level)
                & (ChargingProfile.purpose == profile.purpose),
            ),
        )
    )
    stored = ChargingProfile(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        charging_profile_id=profile.profile_id,
        stack_level=profile.stack_level,
        purpose=profile.purpose,
        profile=json.dumps(profile.fields(), sort_keys=True),
        created_at=now,
        transaction_id=profile.transaction_id,
        transaction_key=profile.transaction_key,
    )
    session.add(stored)
    return stored


async def record_clear(session: AsyncSession, charge_point_id: str, where: ClearChargingProfile) -> None:
    """Forget what an accepted ClearChargingProfile cleared: the profile with its id, else those its
    criteria name (none: every profile)."""
    statement = delete(ChargingProfile).where(ChargingProfile.charge_point_id == charge_point_id)
    if where.profile_id is not None:
        statement = statement.where(ChargingProfile.charging_profile_id == where.profile_id)
    else:
        statement = _filtered(statement, where)
    await session.execute(statement)
    await session.commit()


async def list_profiles(session: AsyncSession, charge_point_id: str) -> list[ChargingProfile]:
    """The charger's profiles, but for TxProfiles of transactions that ended: in both versions a TxProfile
    lasts as long as its transaction, and the charger drops it after."""
    query = (
        select(ChargingProfile)
        .where(ChargingProfile.charge_point_id == charge_point_id, ~_of_ended_transaction())
        .order_by(ChargingProfile.connector_id, ChargingProfile.purpose, ChargingProfile.stack_level)
    )
    return list((await session.scalars(query)).all())


def stored_profile(stored: ChargingProfile) -> ChargingProfileValue:
    return profile_value(stored.profile)


def profile_value(text: str) -> ChargingProfileValue:
    """A profile kept as JSON text (ChargingProfileValue.fields())."""
    fields: dict[str, Any] = json.loads(text)
    return profile_from(fields)


def _of_ended_transaction() -> Any:
    ended = Transaction.stop_timestamp.is_not(None) | Transaction.closed_by.is_not(None)
    by_id = exists().where(Transaction.id == ChargingProfile.transaction_id, ended)
    by_key = exists().where(
        Transaction.charge_point_id == ChargingProfile.charge_point_id,
        Transaction.transaction_key == ChargingProfile.transaction_key,
        ended,
    )
    return by_id | by_key


def _filtered(statement: Any, where: ClearChargingProfile) -> Any:
    if where.connector_id is not None:
        statement = statement.where(ChargingProfile.connector_id == where.connector_id)
    if where.purpose is not None:
        statement = statement.where(ChargingProfile.purpose == where.purpose)
    if where.stack_level is not None:
        statement = statement.where(ChargingProfile.stack_level == where.stack_level)
    return statement
