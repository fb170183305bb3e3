"""Diagnostics retrieval (OCPP 1.6 §3.8, §5.9): GetDiagnostics with an upload link csms serves.

A request with a log type goes out as the security whitepaper's GetLog instead (requestId = the
request's id, DiagnosticsLog or SecurityLog), to the same upload link; its progress arrives in
LogStatusNotification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, DiagnosticsRequest, StoredFile
from csms.domain.commands import UploadLog
from csms.services import file_store, file_transfer
from csms.services.errors import Conflict, NotFound
from csms.services.file_store import WrittenFile
from csms.services.file_transfer import Offered

REQUESTED = "Requested"
ACCEPTED = "Accepted"
NO_DIAGNOSTICS = "NoDiagnostics"
SEND_FAILED = "SendFailed"
REJECTED = "Rejected"
# Reported by the charger (DiagnosticsStatus, OCPP 1.6 §7.24); Idle answers a TriggerMessage.
REPORTED = ("Uploading", "Uploaded", "UploadFailed")
# What LogStatusNotification reports (Security Whitepaper, UploadLogStatusEnumType), Idle aside.
REPORTED_LOG = ("Uploading", "Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied")
LOG_TYPES = ("DiagnosticsLog", "SecurityLog")


async def create_request(
    session: AsyncSession,
    charge_point_id: str,
    *,
    requested_by: int | None,
    now: datetime,
    offered: Offered,
    log_type: str | None = None,
) -> DiagnosticsRequest:
    """A new request, with the scheme its upload link will have (services/file_transfer.py)."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    request = DiagnosticsRequest(
        charge_point_id=charge_point_id,
        status=REQUESTED,
        log_type=log_type,
        transfer_scheme=file_transfer.scheme_for(charger, offered),
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    await session.commit()
    return request


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """The operator's choices for one upload: retries, and the window of log lines it covers."""

    retries: int | None = None
    retry_interval: int | None = None
    oldest: datetime | None = None
    latest: datetime | None = None


def upload_command(request: DiagnosticsRequest, location: str, options: UploadOptions) -> UploadLog:
    """What the request asks of the charger: its diagnostics, or a log of the request's type."""
    return UploadLog(
        request_id=request.id,
        location=location,
        log_type=request.log_type,
        oldest=options.oldest,
        latest=options.latest,
        retries=options.retries,
        retry_interval=options.retry_interval,
    )


async def record_answer(
    session: AsyncSession, request: DiagnosticsRequest, answer: dict[str, Any], *, now: datetime
) -> None:
    """The charger's answer, as its version package read it (`status`, `file_name`).

    The answer's status comes first in a request's life; a charger may report its progress
    (Uploading, UploadFailed...) before its answer reaches csms, and the answer never overwrites it.
    """
    file_name = answer.get("file_name")
    answered = answer.get("status")
    if answered in ("Accepted", "AcceptedCanceled"):
        status = ACCEPTED
    else:
        status = NO_DIAGNOSTICS if answered == NO_DIAGNOSTICS else REJECTED
    await session.execute(
        update(DiagnosticsRequest).where(DiagnosticsRequest.id == request.id).values(file_name=file_name)
    )
    await _answered(session, request, status, now=now)


async def record_send_failure(session: AsyncSession, request: DiagnosticsRequest, *, now: datetime) -> None:
    """The call failed (offline, no answer in time): unless the charger has reported progress meanwhile."""
    await _answered(session, request, SEND_FAILED, now=now)


async def _answered(session: AsyncSession, request: DiagnosticsRequest, status: str, *, now: datetime) -> None:
    """Move a request still waiting for its answer; one the charger reported progress on keeps that news."""
    await session.execute(
        update(DiagnosticsRequest)
        .where(DiagnosticsRequest.id == request.id, DiagnosticsRequest.status == REQUESTED)
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    await session.refresh(request)


async def store_upload(
    session: AsyncSession, request_id: int, written: WrittenFile, *, name: str | None, now: datetime
) -> StoredFile:
    """Record `written` as the request's file, in one transaction: an upload is taken once, so of two
    racing uploads one raises Conflict (its caller removes the bytes it wrote)."""
    request = await get_request(session, request_id)
    stored = StoredFile(
        kind=file_store.DIAGNOSTICS,
        name=file_store.clean_name(name or request.file_name, default=f"diagnostics-{request_id}"),
        storage_name=written.storage_name,
        size=written.size,
        sha256=written.sha256,
        charge_point_id=request.charge_point_id,
        created_at=now,
    )
    session.add(stored)
    await session.flush()
    claimed = await session.execute(
        update(DiagnosticsRequest)
        .where(DiagnosticsRequest.id == request_id, DiagnosticsRequest.file_id.is_(None))
        .values(file_id=stored.id, updated_at=now)
        .returning(DiagnosticsRequest.id)
    )
    if claimed.scalar_one_or_none() is None:
        await session.rollback()
        raise Conflict(f"diagnostics request {request_id} already has its file")
    await session.commit()
    return stored


async def require_open_upload(session: AsyncSession, request_id: int) -> DiagnosticsRequest:
    """The request, if it still waits for its file."""
    request = await get_request(session, request_id)
    if request.file_id is not None:
        raise Conflict(f"diagnostics request {request_id} already has its file")
    return request


async def record_progress(
    session: AsyncSession, charge_point_id: str, status: str, *, now: datetime, request_id: int | None = None
) -> None:
    """A DiagnosticsStatusNotification moves the charger's latest request; a LogStatusNotification
    moves the request whose id it gives."""
    if status not in REPORTED and status not in REPORTED_LOG:
        return
    query = select(DiagnosticsRequest).where(
        DiagnosticsRequest.charge_point_id == charge_point_id, DiagnosticsRequest.status != SEND_FAILED
    )
    if request_id is not None:
        query = query.where(DiagnosticsRequest.id == request_id)
    request = (await session.scalars(query.order_by(DiagnosticsRequest.id.desc()).limit(1))).first()
    if request is not None:
        request.status, request.updated_at = status, now
        await file_transfer.learn_from_failure(
            session,
            charge_point_id,
            status=status,
            scheme_used=request.transfer_scheme,
            sent_at=request.created_at,
            now=now,
        )
        await session.commit()


async def get_request(session: AsyncSession, request_id: int) -> DiagnosticsRequest:
    request = await session.get(DiagnosticsRequest, request_id)
    if request is None:
        raise NotFound(f"diagnostics request {request_id} not found")
    return request


async def list_requests(session: AsyncSession, charge_point_id: str, *, limit: int = 50) -> list[DiagnosticsRequest]:
    query = (
        select(DiagnosticsRequest)
        .where(DiagnosticsRequest.charge_point_id == charge_point_id)
        .order_by(DiagnosticsRequest.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
