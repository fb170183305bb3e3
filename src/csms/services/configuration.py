"""Chargers' configuration keys (OCPP 1.6 §9) and their Basic-auth password (security profile 2)."""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, ChargerConfigurationKey
from csms.security import hash_charger_password
from csms.services.chargers import validate_charger_password
from csms.services.errors import InvalidInput

AUTHORIZATION_KEY = "AuthorizationKey"
# A change the charger has taken on; RebootRequired means it applies it on its next start.
APPLIED_STATUSES = ("Accepted", "RebootRequired")


async def record_configuration(
    session: AsyncSession, charge_point_id: str, keys: list[dict[str, Any]], *, now: datetime
) -> None:
    """Keep the keys of a GetConfiguration answer; keys it did not list stay as last known."""
    for reported in keys:
        if reported["key"] == AUTHORIZATION_KEY:
            continue  # write-only by the security whitepaper; never kept even if a charger reveals it
        await _store(
            session,
            charge_point_id,
            reported["key"],
            reported.get("value"),
            now=now,
            readonly=bool(reported.get("readonly", False)),
        )
    await session.commit()


async def record_change(session: AsyncSession, charge_point_id: str, *, key: str, value: str, now: datetime) -> None:
    """A ChangeConfiguration the charger accepted; a new AuthorizationKey becomes its password."""
    if key == AUTHORIZATION_KEY:
        await _set_password(session, charge_point_id, password_from_authorization_key(value))
    else:
        await _store(session, charge_point_id, key, value, now=now)
    await session.commit()


async def list_configuration(session: AsyncSession, charge_point_id: str) -> list[ChargerConfigurationKey]:
    query = (
        select(ChargerConfigurationKey)
        .where(ChargerConfigurationKey.charge_point_id == charge_point_id)
        .order_by(ChargerConfigurationKey.key)
    )
    return list((await session.scalars(query)).all())


def password_from_authorization_key(value: str) -> str:
    """The Basic-auth password a hex-encoded AuthorizationKey stands for; InvalidInput when it is none."""
    try:
        password = binascii.unhexlify(value).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("an AuthorizationKey is the new password, hex-encoded") from None
    validate_charger_password(password)
    return password


async def _store(
    session: AsyncSession, charge_point_id: str, key: str, value: str | None, *, now: datetime, readonly: bool = False
) -> None:
    row = await session.get(ChargerConfigurationKey, (charge_point_id, key))
    if row is None:
        session.add(
            ChargerConfigurationKey(
                charge_point_id=charge_point_id, key=key, value=value, readonly=readonly, updated_at=now
            )
        )
        return
    row.value, row.updated_at = value, now
    row.readonly = readonly or row.readonly


async def record_password(session: AsyncSession, charge_point_id: str, password: str) -> None:
    """The charger accepted `password` as its new Basic-auth password."""
    await _set_password(session, charge_point_id, password)
    await session.commit()


async def _set_password(session: AsyncSession, charge_point_id: str, password: str) -> None:
    await session.execute(
        update(Charger)
        .where(Charger.charge_point_id == charge_point_id)
        .values(password_hash=await hash_charger_password(password))
    )
