"""Figures for the operator's overview: chargers online, offline, charging and with a fault or out of service;
energy delivered per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from csms.db.models import Charger, Transaction
from csms.services.chargers import state_condition
from csms.services.id_tags import ACCEPTED
from csms.services.transactions import energy_wh


@dataclass(frozen=True, slots=True)
class ChargerCounts:
    total: int
    online: int
    offline: int
    charging: int
    faulted: int
    unavailable: int


@dataclass(frozen=True, slots=True)
class EnergyDay:
    day: date
    energy_wh: int
    sessions: int


async def count_open_transactions(session: AsyncSession) -> int:
    """Charging sessions started (their start Accepted) and not yet stopped, on every charger."""
    query = (
        select(func.count())
        .select_from(Transaction)
        .where(Transaction.stop_timestamp.is_(None), Transaction.id_tag_status == ACCEPTED)
    )
    return await _count(session, query)


async def count_chargers(session: AsyncSession) -> ChargerCounts:
    """Charging, faulted and unavailable are of connected chargers, as the chargers list filters them. One
    statement: the overview reads these again on every live change."""
    states = ("online", "charging", "faulted", "unavailable")
    row = (
        await session.execute(
            select(func.count(), *(func.count().filter(state_condition(state)) for state in states)).select_from(
                Charger
            )
        )
    ).one()
    total, online, charging, faulted, unavailable = (int(count or 0) for count in row)
    return ChargerCounts(
        total=total,
        online=online,
        offline=total - online,
        charging=charging,
        faulted=faulted,
        unavailable=unavailable,
    )


async def energy_per_day(session: AsyncSession, *, days: int, zone: ZoneInfo, now: datetime) -> list[EnergyDay]:
    """Energy and sessions per local day over the last `days` days, today last.

    A session counts on the day it started, with its energy so far if it is still running. Days are
    grouped here rather than in SQL because SQLite and PostgreSQL spell time-zone arithmetic differently.
    """
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    totals = {first_day + timedelta(days=n): [0, 0] for n in range(days)}
    since = datetime.combine(first_day, time.min, tzinfo=zone)
    query = (
        select(Transaction)
        .options(
            load_only(
                Transaction.start_timestamp, Transaction.meter_start, Transaction.meter_stop, Transaction.meter_last_wh
            )
        )
        .where(Transaction.start_timestamp >= since)
    )
    for transaction in await session.scalars(query):
        day_total = totals.get(transaction.start_timestamp.astimezone(zone).date())
        if day_total is not None:  # a start stamped in the future is no part of the chart
            day_total[0] += energy_wh(transaction)
            day_total[1] += 1
    return [EnergyDay(day=day, energy_wh=wh, sessions=count) for day, (wh, count) in totals.items()]


async def _count(session: AsyncSession, query: Select[int]) -> int:
    return int(await session.scalar(query) or 0)
