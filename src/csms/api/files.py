"""Firmware images and diagnostics files: operators upload and download them with a bearer token,
chargers fetch and upload them over links csms signed for them (services/signed_urls.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import (
    DiagnosticsCreate,
    DiagnosticsOut,
    FirmwareUpdateOut,
    RolloutBriefOut,
    RolloutCreate,
    RolloutOut,
    StoredFileOut,
)
from csms.api.operations import ADMIN_ERRORS, CALL_ERRORS, require_charger
from csms.api.schemas import ErrorBody
from csms.db.models import FirmwareRollout, StoredFile
from csms.runtime import Runtime
from csms.services import diagnostics, file_store, firmware, signed_urls
from csms.services.errors import Conflict, InvalidInput, PayloadTooLarge
from csms.services.file_transfer import HTTP

router = APIRouter(tags=["firmware and diagnostics"])

_SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Missing, wrong or expired link signature"},
    404: {"model": ErrorBody, "description": "Unknown file or request"},
}
_UPLOAD_BODY = {
    "requestBody": {
        "description": "The file: the raw body (name in X-Filename), or multipart/form-data with one file",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The file is larger than the limit"}
}


# -- operators ---------------------------------------------------------------------------------


@router.post(
    "/api/admin/firmware",
    status_code=status.HTTP_201_CREATED,
    responses={**ADMIN_ERRORS, **_TOO_LARGE},
    openapi_extra=_UPLOAD_BODY,
)
async def upload_firmware(
    request: Request,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    version: Annotated[
        str | None, Query(max_length=50, description="The version chargers report once installed")
    ] = None,
) -> StoredFileOut:
    """Upload a firmware image; it is kept with its size and SHA-256."""
    name, chunks = await _upload(request, max_bytes=runtime.settings.firmware_max_bytes)
    name = file_store.clean_name(name, default="firmware.bin")  # before writing: a bad name keeps nothing
    written = await runtime.files.write(chunks, max_bytes=runtime.settings.firmware_max_bytes)
    stored = await file_store.record_file(
        session,
        written,
        kind=file_store.FIRMWARE,
        name=name,
        version=version,
        uploaded_by=admin.id,
        now=runtime.clock(),
    )
    return StoredFileOut.model_validate(stored)


@router.get("/api/admin/firmware", responses=ADMIN_ERRORS)
async def list_firmware(admin: AdminUser, session: SessionDep) -> list[StoredFileOut]:
    """The uploaded firmware images, newest first."""
    return [
        StoredFileOut.model_validate(stored)
        for stored in await file_store.list_files(session, kind=file_store.FIRMWARE)
    ]


@router.post("/api/admin/firmware/{file_id}/rollouts", status_code=status.HTTP_202_ACCEPTED, responses=ADMIN_ERRORS)
async def start_firmware_rollout(
    file_id: int, body: RolloutCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> RolloutOut:
    """Send UpdateFirmware to many chargers at once; follow their progress at the rollout's address."""
    image = await file_store.get_file(session, file_id, kind=file_store.FIRMWARE)
    now = runtime.clock()
    plan = firmware.RolloutPlan(
        body.retrieve_date or now, body.retries, body.retry_interval, body.signing_certificate, body.signature
    )
    rollout = await firmware.start_rollout(
        session, firmware=image, charge_point_ids=body.charge_point_ids, plan=plan, created_by=admin.id, now=now
    )
    links = runtime.file_links

    def locate(scheme: str, update_id: int) -> str:
        return links.firmware(
            image, scheme=scheme, update_id=update_id, valid_from=plan.retrieve_date, now=runtime.clock()
        )

    runtime.background.spawn(
        firmware.send_rollout(
            runtime.session_factory,
            runtime.commands.send_command,
            rollout.id,
            locate=locate,
            offered=links.offered(),
            clock=runtime.clock,
        ),
        name=f"firmware-rollout-{rollout.id}",
    )
    return await _rollout_out(session, rollout.id)


@router.get("/api/admin/firmware/rollouts", responses=ADMIN_ERRORS)
async def recent_firmware_rollouts(
    admin: AdminUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[RolloutBriefOut]:
    """The latest rollouts, newest first, with how many chargers are in each status (not each charger's row)."""
    return [
        RolloutBriefOut(
            id=overview.rollout.id,
            firmware=StoredFileOut.model_validate(overview.firmware),
            retrieve_date=overview.rollout.retrieve_date,
            signed=overview.rollout.signature is not None,
            created_at=overview.rollout.created_at,
            counts=overview.counts,
        )
        for overview in await firmware.recent_rollouts(session, limit=limit)
    ]


@router.get("/api/admin/firmware/rollouts/{rollout_id}", responses=ADMIN_ERRORS)
async def firmware_rollout(rollout_id: int, admin: AdminUser, session: SessionDep) -> RolloutOut:
    """A rollout's live summary: how many chargers are in each status, and each charger's progress."""
    return await _rollout_out(session, rollout_id)


@router.post(
    "/api/admin/chargers/{charge_point_id}/diagnostics",
    status_code=status.HTTP_201_CREATED,
    responses=CALL_ERRORS,
)
async def request_diagnostics(
    charge_point_id: str, body: DiagnosticsCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> DiagnosticsOut:
    """Ask for the charger's diagnostics with an upload link csms serves (1.6 GetDiagnostics, or GetLog with a
    log_type; 2.0.1 GetLog, DiagnosticsLog unless a log_type is given); the file arrives later."""
    links = runtime.file_links
    request = await diagnostics.create_request(
        session,
        charge_point_id,
        requested_by=admin.id,
        now=runtime.clock(),
        offered=links.offered(),
        log_type=body.log_type,
    )
    location = links.diagnostics(request.id, scheme=request.transfer_scheme or HTTP, now=runtime.clock())
    command = diagnostics.upload_command(request, location, _upload_options(body))
    try:
        answer = await runtime.commands.send_command(charge_point_id, command)
    except Exception:
        await diagnostics.record_send_failure(session, request, now=runtime.clock())
        raise
    await diagnostics.record_answer(session, request, answer, now=runtime.clock())
    return DiagnosticsOut.model_validate(request)


@router.get("/api/admin/chargers/{charge_point_id}/diagnostics", responses=ADMIN_ERRORS)
async def charger_diagnostics(charge_point_id: str, admin: AdminUser, session: SessionDep) -> list[DiagnosticsOut]:
    """The charger's diagnostics requests, newest first, with their upload status."""
    await require_charger(session, charge_point_id)
    return [DiagnosticsOut.model_validate(found) for found in await diagnostics.list_requests(session, charge_point_id)]


@router.get("/api/admin/diagnostics/{request_id}/file", response_class=FileResponse, responses=ADMIN_ERRORS)
async def download_diagnostics(
    request_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> FileResponse:
    """The file the charger uploaded for this request."""
    request = await diagnostics.get_request(session, request_id)
    if request.file_id is None:
        raise Conflict(f"diagnostics request {request_id} has no uploaded file yet")
    return _file_response(runtime, await file_store.get_file(session, request.file_id, kind=file_store.DIAGNOSTICS))


# -- chargers, over signed links ------------------------------------------------------------------


@router.get("/files/firmware/{file_id}/{name}", response_class=FileResponse, responses=_SIGNED)
async def fetch_firmware(
    file_id: int, name: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> FileResponse:
    """A firmware image, for the chargers whose UpdateFirmware carried this signed link."""
    _verify_link(request, runtime)
    return _file_response(runtime, await file_store.get_file(session, file_id, kind=file_store.FIRMWARE))


@router.put(
    "/files/diagnostics/{request_id}",
    status_code=status.HTTP_201_CREATED,
    responses={**_SIGNED, **_TOO_LARGE},
    openapi_extra=_UPLOAD_BODY,
)
async def put_diagnostics(request_id: int, request: Request, runtime: RuntimeDep, session: SessionDep) -> StoredFileOut:
    """A charger's diagnostics upload (HTTP PUT), over the signed link its GetDiagnostics carried."""
    return await _receive_diagnostics(request_id, request, runtime, session)


@router.post(
    "/files/diagnostics/{request_id}",
    status_code=status.HTTP_201_CREATED,
    responses={**_SIGNED, **_TOO_LARGE},
    openapi_extra=_UPLOAD_BODY,
)
async def post_diagnostics(
    request_id: int, request: Request, runtime: RuntimeDep, session: SessionDep
) -> StoredFileOut:
    """A charger's diagnostics upload (multipart POST), over the signed link its GetDiagnostics carried."""
    return await _receive_diagnostics(request_id, request, runtime, session)


async def _receive_diagnostics(
    request_id: int, request: Request, runtime: Runtime, session: SessionDep
) -> StoredFileOut:
    _verify_link(request, runtime)
    await diagnostics.require_open_upload(session, request_id)
    limit = runtime.settings.diagnostics_max_bytes
    name, chunks = await _upload(request, max_bytes=limit)
    written = await runtime.files.write(chunks, max_bytes=limit)
    try:
        stored = await diagnostics.store_upload(session, request_id, written, name=name, now=runtime.clock())
    except BaseException:
        await runtime.files.remove(written.storage_name)  # another upload was first, or the database failed
        raise
    return StoredFileOut.model_validate(stored)


def _verify_link(request: Request, runtime: Runtime) -> None:
    signed_urls.verify(
        runtime.file_url_key,
        path=request.url.path,
        expires=request.query_params.get("expires"),
        given=request.query_params.get("signature"),
        now=runtime.clock(),
    )


async def _upload(request: Request, *, max_bytes: int) -> tuple[str | None, AsyncIterator[bytes]]:
    """The uploaded file's name and bytes: a raw body, or the one file of a multipart form."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return request.headers.get("x-filename"), request.stream()
    body = file_store.limited(request.stream(), max_bytes=max_bytes + _MULTIPART_OVERHEAD)
    try:
        form = await MultiPartParser(request.headers, body, max_files=1, max_fields=10).parse()
    except MultiPartException as error:
        raise InvalidInput(f"unreadable multipart upload: {error.message}") from None
    upload = next((value for value in form.values() if isinstance(value, UploadFile)), None)
    if upload is None:
        raise InvalidInput("the multipart upload has no file")
    return upload.filename, _read(upload)


_MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file


async def _read(upload: UploadFile) -> AsyncIterator[bytes]:
    try:
        while chunk := await upload.read(1024 * 1024):
            yield chunk
    finally:
        await upload.close()


def _file_response(runtime: Runtime, stored: StoredFile) -> FileResponse:
    return FileResponse(
        runtime.files.path(stored.storage_name),
        filename=stored.name,
        media_type="application/octet-stream",
        headers={"X-Checksum-SHA256": stored.sha256},
    )


def _upload_options(body: DiagnosticsCreate) -> diagnostics.UploadOptions:
    return diagnostics.UploadOptions(body.retries, body.retry_interval, body.start_time, body.stop_time)


async def _rollout_out(session: SessionDep, rollout_id: int) -> RolloutOut:
    summary = await firmware.rollout_summary(session, rollout_id)
    rollout: FirmwareRollout = summary.rollout
    return RolloutOut(
        id=rollout.id,
        firmware=StoredFileOut.model_validate(summary.firmware),
        retrieve_date=rollout.retrieve_date,
        retries=rollout.retries,
        retry_interval=rollout.retry_interval,
        signed=rollout.signature is not None,
        created_at=rollout.created_at,
        counts=summary.counts,
        chargers=[FirmwareUpdateOut.model_validate(update) for update in summary.updates],
    )
