"""Firmware rollouts (OCPP 1.6 §3.9, §5.19): UpdateFirmware to many chargers, and their progress.

Each charger's row moves through the answer to UpdateFirmware (Sent or SendFailed), the statuses
it reports in FirmwareStatusNotification, and finally Confirmed (or VersionMismatch) when its next
BootNotification reports a firmware version.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import Charger, FirmwareRollout, FirmwareUpdate, StoredFile
from csms.services.calls import Send
from csms.services.clock import format_ocpp_timestamp
from csms.services.errors import InvalidInput, NotFound

PENDING = "Pending"
SENT = "Sent"
SEND_FAILED = "SendFailed"
CONFIRMED = "Confirmed"
VERSION_MISMATCH = "VersionMismatch"
# Reported by the charger (FirmwareStatus, OCPP 1.6 §7.25); Idle answers a TriggerMessage and changes nothing.
REPORTED = ("Downloading", "Downloaded", "Installing", "Installed", "DownloadFailed", "InstallationFailed")
# States after which a reboot may report the new version (some chargers reboot before saying Installed).
AWAITING_BOOT = ("Downloaded", "Installing", "Installed")
FINISHED = (CONFIRMED, VERSION_MISMATCH, SEND_FAILED)
MAX_CHARGERS_PER_ROLLOUT = 10_000


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    retrieve_date: datetime
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, slots=True)
class RolloutSummary:
    rollout: FirmwareRollout
    firmware: StoredFile
    counts: dict[str, int]
    updates: list[FirmwareUpdate]


async def start_rollout(
    session: AsyncSession,
    *,
    firmware: StoredFile,
    charge_point_ids: list[str],
    plan: RolloutPlan,
    created_by: int | None,
    now: datetime,
) -> FirmwareRollout:
    """A rollout with one pending row per charger; the calls are sent by `send_rollout`."""
    wanted = list(dict.fromkeys(charge_point_ids))
    if not 1 <= len(wanted) <= MAX_CHARGERS_PER_ROLLOUT:
        raise InvalidInput(f"a rollout names 1 to {MAX_CHARGERS_PER_ROLLOUT} chargers")
    known = set(
        (await session.scalars(select(Charger.charge_point_id).where(Charger.charge_point_id.in_(wanted)))).all()
    )
    if unknown := [charge_point_id for charge_point_id in wanted if charge_point_id not in known]:
        raise NotFound(f"unknown chargers: {', '.join(unknown[:10])}")
    rollout = FirmwareRollout(
        file_id=firmware.id,
        retrieve_date=plan.retrieve_date,
        retries=plan.retries,
        retry_interval=plan.retry_interval,
        created_by=created_by,
        created_at=now,
    )
    session.add(rollout)
    await session.flush()
    session.add_all(
        FirmwareUpdate(rollout_id=rollout.id, charge_point_id=charge_point_id, status=PENDING, updated_at=now)
        for charge_point_id in wanted
    )
    await session.commit()
    return rollout


def update_firmware_payload(rollout: FirmwareRollout, *, location: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"location": location, "retrieveDate": format_ocpp_timestamp(rollout.retrieve_date)}
    if rollout.retries is not None:
        payload["retries"] = rollout.retries
    if rollout.retry_interval is not None:
        payload["retryInterval"] = rollout.retry_interval
    return payload


async def send_rollout(
    session_factory: async_sessionmaker[AsyncSession],
    send: Send,
    rollout_id: int,
    *,
    location: str,
    clock: Callable[[], datetime],
) -> None:
    """Send UpdateFirmware to every pending charger of the rollout at once, recording each outcome."""
    async with session_factory() as session:
        rollout = await session.get(FirmwareRollout, rollout_id)
        if rollout is None:
            return
        payload = update_firmware_payload(rollout, location=location)
        pending = (
            await session.scalars(
                select(FirmwareUpdate).where(FirmwareUpdate.rollout_id == rollout_id, FirmwareUpdate.status == PENDING)
            )
        ).all()
        targets = [(update.id, update.charge_point_id) for update in pending]
    await asyncio.gather(
        *(
            _send_one(session_factory, send, update_id, charge_point_id, payload, clock=clock)
            for update_id, charge_point_id in targets
        )
    )


async def _send_one(
    session_factory: async_sessionmaker[AsyncSession],
    send: Send,
    update_id: int,
    charge_point_id: str,
    payload: dict[str, Any],
    *,
    clock: Callable[[], datetime],
) -> None:
    try:
        await send(charge_point_id, "UpdateFirmware", payload)
        status, detail = SENT, None
    except Exception as error:  # offline, timeout, CallError: this charger's row says why
        status, detail = SEND_FAILED, str(error)[:255]
    async with session_factory() as session:
        update = await session.get(FirmwareUpdate, update_id)
        if update is not None and update.status == PENDING:
            update.status, update.detail, update.updated_at = status, detail, clock()
            await session.commit()


async def record_progress(session: AsyncSession, charge_point_id: str, status: str, *, now: datetime) -> None:
    """A FirmwareStatusNotification: it moves the charger's latest unfinished rollout row."""
    if status not in REPORTED:
        return
    update = await _latest_update(session, charge_point_id)
    if update is not None and update.status not in FINISHED:
        update.status, update.updated_at = status, now
        await session.commit()


async def confirm_version(
    session: AsyncSession, charge_point_id: str, firmware_version: str | None, *, now: datetime
) -> None:
    """A BootNotification after an install: Confirmed when it reports the rollout's version."""
    update = await _latest_update(session, charge_point_id)
    if update is None or update.status not in AWAITING_BOOT:
        return
    firmware = await session.scalar(
        select(StoredFile)
        .join(FirmwareRollout, FirmwareRollout.file_id == StoredFile.id)
        .where(FirmwareRollout.id == update.rollout_id)
    )
    expected = firmware.version if firmware is not None else None
    is_expected = expected is None or expected == firmware_version
    update.status = CONFIRMED if is_expected else VERSION_MISMATCH
    update.reported_version, update.updated_at = firmware_version, now
    await session.commit()


async def rollout_summary(session: AsyncSession, rollout_id: int) -> RolloutSummary:
    rollout = await session.get(FirmwareRollout, rollout_id)
    if rollout is None:
        raise NotFound(f"firmware rollout {rollout_id} not found")
    firmware = await session.get(StoredFile, rollout.file_id)
    if firmware is None:
        raise NotFound(f"the firmware of rollout {rollout_id} is gone")
    updates = list(
        (
            await session.scalars(
                select(FirmwareUpdate)
                .where(FirmwareUpdate.rollout_id == rollout_id)
                .order_by(FirmwareUpdate.charge_point_id)
            )
        ).all()
    )
    return RolloutSummary(rollout, firmware, dict(Counter(update.status for update in updates)), updates)


async def _latest_update(session: AsyncSession, charge_point_id: str) -> FirmwareUpdate | None:
    query = (
        select(FirmwareUpdate)
        .where(FirmwareUpdate.charge_point_id == charge_point_id, FirmwareUpdate.status != PENDING)
        .order_by(FirmwareUpdate.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()
