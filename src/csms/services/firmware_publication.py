"""Firmware a local controller publishes to the stations behind it (OCPP 2.0.1 L03/L04).

A local controller fetches the image from csms once (PublishFirmware, with the image's MD5) and serves it
to its stations itself; it reports its progress in PublishFirmwareStatusNotification, ending Published with
the locations it serves the image at, which csms keeps. UnpublishFirmware stops it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, FirmwarePublication, StoredFile
from csms.domain.commands import PublishFirmware, UnpublishFirmware
from csms.services.chargers import OCPP_16
from csms.services.errors import Conflict, InvalidInput, NotFound

PENDING = "Pending"
SEND_FAILED = "SendFailed"
UNPUBLISHED = "Unpublished"
PUBLISHED = "Published"
# What a local controller reports (2.0.1 PublishFirmwareStatusEnumType).
REPORTED = (
    "Idle",
    "DownloadScheduled",
    "Downloading",
    "Downloaded",
    PUBLISHED,
    "DownloadFailed",
    "DownloadPaused",
    "InvalidChecksum",
    "ChecksumVerified",
    "PublishFailed",
)


async def start_publication(
    session: AsyncSession, *, image: StoredFile, image_path: Path, charge_point_id: str, now: datetime
) -> FirmwarePublication:
    """A pending publication of `image` by the controller `charge_point_id`, stored so its id can be the
    requestId; the MD5 PublishFirmware carries is read from the file, off the event loop."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if charger.ocpp_version == OCPP_16:
        raise InvalidInput(f"{charge_point_id} speaks OCPP 1.6, which has no local controllers to publish firmware")
    publication = FirmwarePublication(
        file_id=image.id,
        charge_point_id=charge_point_id,
        checksum=await asyncio.to_thread(_md5_of, image_path),
        status=PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(publication)
    await session.commit()
    return publication


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # the checksum 2.0.1 asks for, not a security measure
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def publish_command(
    publication: FirmwarePublication, *, location: str, retries: int | None, retry_interval: int | None
) -> PublishFirmware:
    return PublishFirmware(
        request_id=publication.id,
        location=location,
        checksum=publication.checksum,
        retries=retries,
        retry_interval=retry_interval,
    )


def unpublish_command(publication: FirmwarePublication) -> UnpublishFirmware:
    return UnpublishFirmware(publication.checksum)


async def record_status(session: AsyncSession, publication: FirmwarePublication, status: str, *, now: datetime) -> None:
    """The controller's answer to PublishFirmware (Accepted, Rejected) or UnpublishFirmware, or SendFailed."""
    publication.status, publication.updated_at = status, now
    await session.commit()


async def record_reported(
    session: AsyncSession,
    charge_point_id: str,
    *,
    request_id: int | None,
    status: str,
    locations: list[str],
    now: datetime,
) -> None:
    """A PublishFirmwareStatusNotification: the status of the publication it names (its newest when it
    names none, as for an Idle answering a TriggerMessage), with the locations once Published."""
    publication = await _reported_publication(session, charge_point_id, request_id)
    if publication is None:
        return
    publication.status, publication.updated_at = status, now
    if status == PUBLISHED:
        publication.published_locations = json.dumps(locations)
    await session.commit()


async def _reported_publication(
    session: AsyncSession, charge_point_id: str, request_id: int | None
) -> FirmwarePublication | None:
    query = select(FirmwarePublication).where(FirmwarePublication.charge_point_id == charge_point_id)
    if request_id is not None:
        query = query.where(FirmwarePublication.id == request_id)
    return await session.scalar(query.order_by(FirmwarePublication.id.desc()).limit(1))


async def get_publication(session: AsyncSession, publication_id: int) -> FirmwarePublication:
    publication = await session.get(FirmwarePublication, publication_id)
    if publication is None:
        raise NotFound(f"firmware publication {publication_id} not found")
    return publication


def require_unpublishable(publication: FirmwarePublication) -> None:
    if publication.status in (PENDING, SEND_FAILED, UNPUBLISHED):
        raise Conflict(f"firmware publication {publication.id} is {publication.status}: there is nothing to unpublish")


async def list_publications(
    session: AsyncSession, *, charge_point_id: str | None = None, limit: int = 100
) -> list[FirmwarePublication]:
    query = select(FirmwarePublication).order_by(FirmwarePublication.id.desc()).limit(limit)
    if charge_point_id is not None:
        query = query.where(FirmwarePublication.charge_point_id == charge_point_id)
    return list((await session.scalars(query)).all())


def published_locations(publication: FirmwarePublication) -> list[str]:
    return list(json.loads(publication.published_locations)) if publication.published_locations else []
