"""Firmware rollouts (OCPP 1.6 §3.9, §5.19): UpdateFirmware to many chargers, and their progress.

A rollout with the manufacturer's signing certificate and signature goes out as the security
whitepaper's SignedUpdateFirmware instead (requestId = the rollout's id), and its progress arrives in
SignedFirmwareStatusNotification.

Each charger's row moves through the answer to UpdateFirmware (Sent or SendFailed), the statuses
it reports in FirmwareStatusNotification, and finally Confirmed (or VersionMismatch) when its next
BootNotification reports a firmware version.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import Charger, FirmwareRollout, FirmwareUpdate, StoredFile
from csms.domain.commands import UpdateFirmware
from csms.services import file_transfer
from csms.services.calls import SendCommand
from csms.services.errors import InvalidInput, NotFound
from csms.services.file_transfer import Offered

# The link for one charger's firmware update: (scheme, firmware update id) -> location.
Locate = Callable[[str, int], str]

PENDING = "Pending"
SENT = "Sent"
SEND_FAILED = "SendFailed"
CONFIRMED = "Confirmed"
VERSION_MISMATCH = "VersionMismatch"
# Reported by the charger (FirmwareStatus, OCPP 1.6 §7.25); Idle answers a TriggerMessage and changes nothing.
REPORTED = ("Downloading", "Downloaded", "Installing", "Installed", "DownloadFailed", "InstallationFailed")
# What SignedFirmwareStatusNotification adds (Security Whitepaper, FirmwareStatusEnumType).
REPORTED_SIGNED = (
    *REPORTED,
    "DownloadScheduled",
    "DownloadPaused",
    "InstallRebooting",
    "InstallScheduled",
    "InstallVerificationFailed",
    "InvalidSignature",
    "SignatureVerified",
)
# States after which a reboot may report the new version (some chargers reboot before saying Installed).
AWAITING_BOOT = ("Downloaded", "Installing", "Installed", "InstallRebooting", "SignatureVerified")
# SignedUpdateFirmware answers that mean the charger took the request.
SIGNED_ACCEPTED = ("Accepted", "AcceptedCanceled")
FINISHED = (CONFIRMED, VERSION_MISMATCH, SEND_FAILED)
MAX_CHARGERS_PER_ROLLOUT = 10_000


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    retrieve_date: datetime
    retries: int | None = None
    retry_interval: int | None = None
    # Both set: the rollout goes out as SignedUpdateFirmware (PEM certificate, Base64 signature).
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class RolloutSummary:
    rollout: FirmwareRollout
    firmware: StoredFile
    counts: dict[str, int]
    updates: list[FirmwareUpdate]


@dataclass(frozen=True, slots=True)
class RolloutOverview:
    rollout: FirmwareRollout
    firmware: StoredFile
    counts: dict[str, int]


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
        signing_certificate=plan.signing_certificate,
        signature=plan.signature,
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


def firmware_command(rollout: FirmwareRollout, *, location: str) -> UpdateFirmware:
    """What the rollout asks of each charger (signed when it carries a signature and its certificate)."""
    return UpdateFirmware(
        request_id=rollout.id,
        location=location,
        retrieve_at=rollout.retrieve_date,
        retries=rollout.retries,
        retry_interval=rollout.retry_interval,
        signing_certificate=rollout.signing_certificate,
        signature=rollout.signature,
    )


async def send_rollout(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    rollout_id: int,
    *,
    locate: Locate,
    offered: Offered,
    clock: Callable[[], datetime],
) -> None:
    """Send UpdateFirmware to every pending charger of the rollout at once, recording each outcome.

    Each charger's link has the scheme it takes (services/file_transfer.py); an ftp link carries a
    login for that charger's update only."""
    async with session_factory() as session:
        rollout = await session.get(FirmwareRollout, rollout_id)
        if rollout is None:
            return
        pending = (
            await session.execute(
                select(FirmwareUpdate, Charger)
                .join(Charger, Charger.charge_point_id == FirmwareUpdate.charge_point_id)
                .where(FirmwareUpdate.rollout_id == rollout_id, FirmwareUpdate.status == PENDING)
            )
        ).all()
        targets = []
        for update, charger in pending:
            update.transfer_scheme = file_transfer.scheme_for(charger, offered)
            location = locate(update.transfer_scheme, update.id)
            targets.append((update.id, update.charge_point_id, firmware_command(rollout, location=location)))
        await session.commit()
    await asyncio.gather(
        *(
            _send_one(session_factory, send, update_id, charge_point_id, command, clock=clock)
            for update_id, charge_point_id, command in targets
        )
    )


async def _send_one(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    update_id: int,
    charge_point_id: str,
    command: UpdateFirmware,
    *,
    clock: Callable[[], datetime],
) -> None:
    try:
        answer = await send(charge_point_id, command)
        status, detail = _outcome(answer.get("status"))
    except Exception as error:  # offline, timeout, CallError: this charger's row says why
        status, detail = SEND_FAILED, str(error)[:255]
    # Only a row still Pending: progress the charger reported before its answer arrived is newer news.
    async with session_factory() as session:
        await session.execute(
            update(FirmwareUpdate)
            .where(FirmwareUpdate.id == update_id, FirmwareUpdate.status == PENDING)
            .values(status=status, detail=detail, updated_at=clock())
        )
        await session.commit()


def _outcome(answered_status: object) -> tuple[str, str | None]:
    """1.6 UpdateFirmware has an empty answer (None); a signed or 2.x update's says whether the charger took it."""
    if answered_status is None or answered_status in SIGNED_ACCEPTED:
        return SENT, None
    return SEND_FAILED, f"the charger answered {answered_status}"


async def record_progress(
    session: AsyncSession, charge_point_id: str, status: str, *, now: datetime, request_id: int | None = None
) -> None:
    """A (Signed)FirmwareStatusNotification: it moves the charger's latest unfinished rollout row, or
    the row of the rollout whose id the charger gave as requestId."""
    if status not in REPORTED_SIGNED:  # each notification's schema admits only its own statuses
        return
    # A Pending row too: a charger may report progress before its answer to UpdateFirmware reaches
    # csms, and that answer then leaves the newer status alone (`_send_one`).
    update = await _latest_update(session, charge_point_id, rollout_id=request_id, include_pending=True)
    if update is not None and update.status not in FINISHED:
        update.status, update.updated_at = status, now
        rollout = await session.get(FirmwareRollout, update.rollout_id)
        if rollout is not None:
            await file_transfer.learn_from_failure(
                session,
                charge_point_id,
                status=status,
                scheme_used=update.transfer_scheme,
                sent_at=max(rollout.created_at, rollout.retrieve_date),
                now=now,
            )
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


async def recent_rollouts(session: AsyncSession, *, limit: int) -> list[RolloutOverview]:
    """The latest rollouts, newest first, each with how many of its chargers are in each status."""
    found = (
        await session.execute(
            select(FirmwareRollout, StoredFile)
            .join(StoredFile, StoredFile.id == FirmwareRollout.file_id)
            .order_by(FirmwareRollout.id.desc())
            .limit(limit)
        )
    ).all()
    counted = await session.execute(
        select(FirmwareUpdate.rollout_id, FirmwareUpdate.status, func.count())
        .where(FirmwareUpdate.rollout_id.in_([rollout.id for rollout, _ in found]))
        .group_by(FirmwareUpdate.rollout_id, FirmwareUpdate.status)
    )
    counts: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for rollout_id, status, how_many in counted:
        counts[rollout_id][status] = how_many
    return [RolloutOverview(rollout, firmware, counts[rollout.id]) for rollout, firmware in found]


async def _latest_update(
    session: AsyncSession, charge_point_id: str, *, rollout_id: int | None = None, include_pending: bool = False
) -> FirmwareUpdate | None:
    query = select(FirmwareUpdate).where(FirmwareUpdate.charge_point_id == charge_point_id)
    if not include_pending:
        query = query.where(FirmwareUpdate.status != PENDING)
    if rollout_id is not None:
        query = query.where(FirmwareUpdate.rollout_id == rollout_id)
    return (await session.scalars(query.order_by(FirmwareUpdate.id.desc()).limit(1))).first()


async def image_of_update(session: AsyncSession, update_id: int) -> StoredFile:
    """The firmware image one charger's update fetches (what its FTP login may read)."""
    image = await session.scalar(
        select(StoredFile)
        .join(FirmwareRollout, FirmwareRollout.file_id == StoredFile.id)
        .join(FirmwareUpdate, FirmwareUpdate.rollout_id == FirmwareRollout.id)
        .where(FirmwareUpdate.id == update_id)
    )
    if image is None:
        raise NotFound(f"firmware update {update_id} not found")
    return image
