"""Charging profiles a charger accepted (OCPP 1.6 §3.13), kept per charger and connector."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import ChargingProfile


@dataclass(frozen=True, slots=True)
class ClearCriteria:
    """ClearChargingProfile's filters; none given clears every profile (§5.5)."""

    profile_id: int | None = None
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


def criteria(payload: dict[str, Any]) -> ClearCriteria:
    return ClearCriteria(
        profile_id=payload.get("id"),
        connector_id=payload.get("connectorId"),
        purpose=payload.get("chargingProfilePurpose"),
        stack_level=payload.get("stackLevel"),
    )


async def record_set(
    session: AsyncSession, charge_point_id: str, connector_id: int, profile: dict[str, Any], *, now: datetime
) -> ChargingProfile:
    """Keep an accepted profile. As on the charger (§3.13.2), it replaces the profile with its id and the one
    with its stack level and purpose on its connector."""
    profile_id, stack_level = int(profile["chargingProfileId"]), int(profile["stackLevel"])
    purpose = str(profile["chargingProfilePurpose"])
    await session.execute(
        delete(ChargingProfile).where(
            ChargingProfile.charge_point_id == charge_point_id,
            or_(
                ChargingProfile.charging_profile_id == profile_id,
                (ChargingProfile.connector_id == connector_id)
                & (ChargingProfile.stack_level == stack_level)
                & (ChargingProfile.purpose == purpose),
            ),
        )
    )
    stored = ChargingProfile(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        charging_profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        profile=json.dumps(profile, sort_keys=True),
        created_at=now,
    )
    session.add(stored)
    await session.commit()
    return stored


async def record_clear(session: AsyncSession, charge_point_id: str, where: ClearCriteria) -> None:
    statement = delete(ChargingProfile).where(ChargingProfile.charge_point_id == charge_point_id)
    if where.profile_id is not None:
        statement = statement.where(ChargingProfile.charging_profile_id == where.profile_id)
    else:
        statement = _filtered(statement, where)
    await session.execute(statement)
    await session.commit()


async def list_profiles(session: AsyncSession, charge_point_id: str) -> list[ChargingProfile]:
    query = (
        select(ChargingProfile)
        .where(ChargingProfile.charge_point_id == charge_point_id)
        .order_by(ChargingProfile.connector_id, ChargingProfile.purpose, ChargingProfile.stack_level)
    )
    return list((await session.scalars(query)).all())


def profile_body(stored: ChargingProfile) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(stored.profile)
    return body


def _filtered(statement: Any, where: ClearCriteria) -> Any:
    if where.connector_id is not None:
        statement = statement.where(ChargingProfile.connector_id == where.connector_id)
    if where.purpose is not None:
        statement = statement.where(ChargingProfile.purpose == where.purpose)
    if where.stack_level is not None:
        statement = statement.where(ChargingProfile.stack_level == where.stack_level)
    return statement
