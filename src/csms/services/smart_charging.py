"""Smart charging on any OCPP version: put a profile on a connector or EVSE, clear profiles, ask for the
composite schedule. What a charger accepts is kept (charging_profiles.py) as the generic call keeps it.

These are the functions a load manager calls; the REST layer uses them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import Transaction
from csms.domain.commands import (
    EXTERNAL_CONSTRAINTS_PROFILE,
    EXTERNAL_CONSTRAINTS_REFUSAL,
    STATION_MAX_PROFILE,
    TX_PROFILE,
    ChargingProfileValue,
    ClearChargingProfile,
    GetCompositeSchedule,
    SchedulePeriod,
    SetChargingProfile,
)
from csms.services import charger_calls
from csms.services.calls import SendCommand
from csms.services.errors import Conflict, InvalidInput, NotFound


async def plan_profile(session: AsyncSession, charge_point_id: str, command: SetChargingProfile) -> SetChargingProfile:
    """`command` checked against the charger's state: a TxProfile's transaction is open on this charger
    and gets the station's own name for it (2.x transactionId)."""
    profile = command.profile
    if profile.purpose == EXTERNAL_CONSTRAINTS_PROFILE:
        raise InvalidInput(EXTERNAL_CONSTRAINTS_REFUSAL)
    if profile.purpose == STATION_MAX_PROFILE and command.connector_id != 0:
        raise InvalidInput("a ChargingStationMaxProfile is set on connector 0, the whole charger")
    if profile.purpose != TX_PROFILE:
        if profile.transaction_id is not None:
            raise InvalidInput(f"only a TxProfile names a transaction, not a {profile.purpose}")
        return command
    if command.connector_id < 1:
        raise InvalidInput("a TxProfile is set on the connector (EVSE) of its transaction, 1 or more")
    if profile.transaction_id is None:
        raise InvalidInput("a TxProfile names its transaction: transaction_id")
    transaction = await _open_transaction(session, charge_point_id, profile.transaction_id)
    if (transaction.evse_id or transaction.connector_id) != command.connector_id:
        raise InvalidInput(
            f"transaction {transaction.id} runs on connector {transaction.evse_id or transaction.connector_id},"
            f" not {command.connector_id}"
        )
    return replace(command, profile=replace(profile, transaction_key=transaction.transaction_key))


async def set_profile(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    charge_point_id: str,
    command: SetChargingProfile,
    *,
    now: datetime,
) -> str:
    """Send the profile (checked by `plan_profile`) and keep it when the charger accepts; the charger's status."""
    return await _send_and_record(session_factory, send, charge_point_id, command, now=now)


async def clear_profiles(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    charge_point_id: str,
    command: ClearChargingProfile,
    *,
    now: datetime,
) -> str:
    """Clear the profiles `command` names; csms forgets them once the charger accepts (Unknown: it had none)."""
    return await _send_and_record(session_factory, send, charge_point_id, command, now=now)


async def composite_schedule(send: SendCommand, charge_point_id: str, command: GetCompositeSchedule) -> dict[str, Any]:
    """The charger's answer: `status`, and `schedule` in csms's words (None when it gave none)."""
    return await send(charge_point_id, command)


async def _send_and_record(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    charge_point_id: str,
    command: SetChargingProfile | ClearChargingProfile,
    *,
    now: datetime,
) -> str:
    answer = await send(charge_point_id, command)
    async with session_factory() as session:
        await charger_calls.record_command(
            session, charge_point_id=charge_point_id, command=command, answer=answer, now=now
        )
    return str(answer["status"])


async def _open_transaction(session: AsyncSession, charge_point_id: str, transaction_id: int) -> Transaction:
    transaction = await session.get(Transaction, transaction_id)
    if transaction is None or transaction.charge_point_id != charge_point_id:
        raise NotFound(f"charger {charge_point_id} has no transaction {transaction_id}")
    if transaction.stop_timestamp is not None or transaction.closed_by is not None:
        raise Conflict(f"transaction {transaction_id} has ended")
    return transaction


@dataclass(frozen=True, slots=True)
class ChargingNeeds:
    """What an EV asked for over ISO 15118 (2.x NotifyEVChargingNeeds), in csms's words: the energy it wants
    (Wh), by when, and the current (AC, A per phase) or power (DC, W) it can take."""

    evse_id: int
    phases: int | None  # None: DC
    energy_wh: float | None
    departure: datetime | None
    max_rate: float
    min_rate: float = 0.0


# The allocator of a site uses TX profile ids from 770000 (services/site_load.py); a schedule for an EV's
# needs has its own, on the same stack level, so an operator's own profiles keep theirs.
NEEDS_PROFILE_ID = 780_000
NEEDS_STACK_LEVEL = 1
VOLTS = 230.0


def needs_rate(needs: ChargingNeeds, *, now: datetime) -> float:
    """The steadiest rate that meets the needs: the energy spread evenly until departure, never below what
    the EV takes at least nor above its maximum; its maximum without a departure or an amount."""
    if needs.energy_wh is None or needs.departure is None or needs.departure <= now:
        return needs.max_rate
    hours = (needs.departure - now).total_seconds() / 3600
    power_w = needs.energy_wh / hours
    rate = power_w / (VOLTS * needs.phases) if needs.phases else power_w
    rate = round(rate, 1)  # OCPP limits carry one decimal
    return max(needs.min_rate, min(needs.max_rate, rate))


async def answer_charging_needs(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    charge_point_id: str,
    needs: ChargingNeeds,
    *,
    now: datetime,
) -> str | None:
    """Give the open transaction on the EVSE a TxProfile that meets the EV's needs (K15/K16); the station's
    answer, or None when no transaction runs there (nothing to schedule yet)."""
    async with session_factory() as session:
        transaction = await session.scalar(
            select(Transaction)
            .where(
                Transaction.charge_point_id == charge_point_id,
                Transaction.evse_id == needs.evse_id,
                Transaction.stop_timestamp.is_(None),
                Transaction.closed_by.is_(None),
            )
            .order_by(Transaction.id.desc())
            .limit(1)
        )
    if transaction is None:
        return None
    profile = ChargingProfileValue(
        profile_id=NEEDS_PROFILE_ID + needs.evse_id,
        stack_level=NEEDS_STACK_LEVEL,
        purpose=TX_PROFILE,
        kind="Absolute",
        charging_rate_unit="A" if needs.phases else "W",
        periods=(SchedulePeriod(0, needs_rate(needs, now=now), number_phases=needs.phases),),
        start_schedule=now,
        transaction_id=transaction.id,
        transaction_key=transaction.transaction_key,
    )
    return await set_profile(
        session_factory, send, charge_point_id, SetChargingProfile(needs.evse_id, profile), now=now
    )
