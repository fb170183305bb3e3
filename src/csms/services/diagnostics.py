"""Diagnostics retrieval (OCPP 1.6 §3.8, §5.9): GetDiagnostics with an upload link csms serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, DiagnosticsRequest, StoredFile
from csms.services.errors import NotFound

REQUESTED = "Requested"
ACCEPTED = "Accepted"
NO_DIAGNOSTICS = "NoDiagnostics"
SEND_FAILED = "SendFailed"
# Reported by the charger (DiagnosticsStatus, OCPP 1.6 §7.24); Idle answers a TriggerMessage.
REPORTED = ("Uploading", "Uploaded", "UploadFailed")


async def create_request(
    session: AsyncSession, charge_point_id: str, *, requested_by: int | None, now: datetime
) -> DiagnosticsRequest:
    if await session.get(Charger, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    request = DiagnosticsRequest(
        charge_point_id=charge_point_id, status=REQUESTED, requested_by=requested_by, created_at=now, updated_at=now
    )
    session.add(request)
    await session.commit()
    return request


def get_diagnostics_payload(location: str, options: dict[str, Any]) -> dict[str, Any]:
    """GetDiagnostics for `location`, with the optional retries, retryInterval, startTime, stopTime."""
    return {"location": location, **{name: value for name, value in options.items() if value is not None}}


async def record_answer(
    session: AsyncSession, request: DiagnosticsRequest, *, file_name: str | None, now: datetime
) -> None:
    """No fileName in the answer means the charger has no diagnostics to send (§6.21)."""
    request.status = ACCEPTED if file_name else NO_DIAGNOSTICS
    request.file_name, request.updated_at = file_name, now
    await session.commit()


async def record_send_failure(session: AsyncSession, request: DiagnosticsRequest, *, now: datetime) -> None:
    request.status, request.updated_at = SEND_FAILED, now
    await session.commit()


async def record_upload(
    session: AsyncSession, request: DiagnosticsRequest, stored: StoredFile, *, now: datetime
) -> None:
    request.file_id, request.updated_at = stored.id, now
    await session.commit()


async def record_progress(session: AsyncSession, charge_point_id: str, status: str, *, now: datetime) -> None:
    """A DiagnosticsStatusNotification: it moves the charger's latest request."""
    if status not in REPORTED:
        return
    query = (
        select(DiagnosticsRequest)
        .where(DiagnosticsRequest.charge_point_id == charge_point_id, DiagnosticsRequest.status != SEND_FAILED)
        .order_by(DiagnosticsRequest.id.desc())
        .limit(1)
    )
    request = (await session.scalars(query)).first()
    if request is not None:
        request.status, request.updated_at = status, now
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
