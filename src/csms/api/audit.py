"""The operators' audit log (who changed what, when, from where) and the security event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.api.deps import AdminUser, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.storable_text import escape_unstorable
from csms.runtime import Runtime
from csms.services import security_log
from csms.services.login_cache import Principal

router = APIRouter(prefix="/api/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs admin"},
}
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHENTICATED_ADMIN_REQUEST = "admin_request_unauthenticated"


class AuditRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    username: str | None
    role: str | None
    method: str
    path: str
    status_code: int
    remote_address: str | None
    created_at: Any


class SecurityEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    kind: str
    charge_point_id: str | None
    remote_address: str | None
    detail: str | None
    # How many attempts this row stands for: repeats in one period are kept as one row.
    count: int
    created_at: Any


@router.get("/audit_log", responses=_ERRORS)
async def audit_log(
    admin: AdminUser,
    session: SessionDep,
    user_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
) -> list[AuditRecordOut]:
    """Operators' changes, newest first: who, what, when, from where, and how it ended."""
    found = await security_log.list_audit_records(session, user_id=user_id, limit=limit, before_id=before_id)
    return [AuditRecordOut.model_validate(record) for record in found]


@router.get("/security_events", responses=_ERRORS)
async def security_events(
    admin: AdminUser,
    session: SessionDep,
    charge_point_id: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
) -> list[SecurityEventOut]:
    """Refused and throttled charger connections and other security events, newest first."""
    found = await security_log.list_security_events(
        session, charge_point_id=charge_point_id, kind=kind, limit=limit, before_id=before_id
    )
    return [SecurityEventOut.model_validate(event) for event in found]


class AuditMiddleware:
    """Records every change a logged-in caller requests under /api/admin/, with the caller and the answer's status;
    requests without a login are counted as security events (`UNAUTHENTICATED_ADMIN_REQUEST`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READ_ONLY or not scope["path"].startswith("/api/admin/"):
            await self.app(scope, receive, send)
            return
        recorded = False

        async def record_then_send(message: Message) -> None:
            # Recorded before the answer leaves: a client that has its answer finds the request in the log,
            # and one request after another is logged in that order.
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                _record(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_then_send)
        finally:
            if not recorded:  # failed before it answered
                _record(scope, 500)


def _record(scope: Scope, status: int) -> None:
    runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
    if runtime is None:
        return
    principal: Principal | None = scope.get("state", {}).get("principal")
    client = scope.get("client")
    if principal is None:
        # Nobody logged in changed anything, and anyone can repeat such a request at will: counted per
        # address and period as a security event instead of an audit row each.
        runtime.security_events.record(
            kind=UNAUTHENTICATED_ADMIN_REQUEST,
            charge_point_id=None,
            remote_address=client[0] if client else None,
            detail=f"{scope['method']} {escape_unstorable(scope['path'])[:200]} answered {status}",
        )
        return
    entry = security_log.AuditEntry(
        user_id=principal.id,
        username=principal.username,
        role=principal.role,
        method=scope["method"],
        path=scope["path"],
        status_code=status,
        remote_address=client[0] if client else None,
    )
    security_log.record_audit(runtime.writer, entry, now=runtime.clock())
