"""Firmware that local controllers publish to the stations behind them (OCPP 2.0.1 PublishFirmware)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operations import CALL_ERRORS
from csms.db.models import FirmwarePublication
from csms.services import file_store, firmware_publication
from csms.services.errors import Conflict

router = APIRouter(prefix="/api/admin/firmware", tags=["firmware"])


class PublicationCreate(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=64, description="The local controller", examples=["LC01"])
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_interval: int | None = Field(default=None, ge=0, le=86_400, description="Seconds")


class PublicationOut(BaseModel):
    id: int = Field(description="The requestId of its PublishFirmware")
    file_id: int
    charge_point_id: str
    checksum: str = Field(description="The image's MD5, as PublishFirmware carries it")
    status: str = Field(
        description="Pending, SendFailed, the controller's answer (Accepted, Rejected), then what it reports "
        "(Downloading, ChecksumVerified, Published, PublishFailed...), or Unpublished"
    )
    published_locations: list[str] = Field(description="Where the controller serves the image, once Published")
    created_at: datetime
    updated_at: datetime


@router.post("/{file_id}/publications", status_code=status.HTTP_201_CREATED, responses=CALL_ERRORS)
async def publish_firmware(
    file_id: int, body: PublicationCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> PublicationOut:
    """Ask a 2.x local controller to publish an uploaded image to its stations (PublishFirmware); the status
    is its answer, and its progress follows in this publication."""
    image = await file_store.get_file(session, file_id, kind=file_store.FIRMWARE)
    publication = await firmware_publication.start_publication(
        session,
        image=image,
        image_path=runtime.files.path(image.storage_name),
        charge_point_id=body.charge_point_id,
        now=runtime.clock(),
    )
    location = runtime.file_links.published_firmware(image, now=runtime.clock())
    command = firmware_publication.publish_command(
        publication, location=location, retries=body.retries, retry_interval=body.retry_interval
    )
    try:
        answer = await runtime.commands.send_command(body.charge_point_id, command)
    except Exception:
        await firmware_publication.record_status(
            session, publication, firmware_publication.SEND_FAILED, now=runtime.clock()
        )
        raise
    await firmware_publication.record_status(session, publication, str(answer["status"]), now=runtime.clock())
    return _publication_out(publication)


@router.get("/publications", responses=CALL_ERRORS)
async def list_publications(
    admin: AdminUser,
    session: SessionDep,
    charge_point_id: Annotated[str | None, Query(max_length=64, description="Only this controller's")] = None,
) -> list[PublicationOut]:
    """Firmware publications, newest first."""
    found = await firmware_publication.list_publications(session, charge_point_id=charge_point_id)
    return [_publication_out(publication) for publication in found]


@router.get("/publications/{publication_id}", responses=CALL_ERRORS)
async def get_publication(publication_id: int, admin: AdminUser, session: SessionDep) -> PublicationOut:
    """One publication, with the controller's latest status and its locations."""
    return _publication_out(await firmware_publication.get_publication(session, publication_id))


@router.delete("/publications/{publication_id}", responses=CALL_ERRORS)
async def unpublish_firmware(
    publication_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> PublicationOut:
    """Ask the controller to stop publishing the image (UnpublishFirmware); Unpublished once it has."""
    publication = await firmware_publication.get_publication(session, publication_id)
    firmware_publication.require_unpublishable(publication)
    command = firmware_publication.unpublish_command(publication)
    answer = await runtime.commands.send_command(publication.charge_point_id, command)
    if answer["status"] == "PublishInProgress":
        raise Conflict(f"{publication.charge_point_id} is still publishing the image; try again once it has")
    # Unpublished or NoFirmware: either way the controller publishes nothing now.
    await firmware_publication.record_status(
        session, publication, firmware_publication.UNPUBLISHED, now=runtime.clock()
    )
    return _publication_out(publication)


def _publication_out(publication: FirmwarePublication) -> PublicationOut:
    return PublicationOut(
        id=publication.id,
        file_id=publication.file_id,
        charge_point_id=publication.charge_point_id,
        checksum=publication.checksum,
        status=publication.status,
        published_locations=firmware_publication.published_locations(publication),
        created_at=publication.created_at,
        updated_at=publication.updated_at,
    )
