"""Every error answer is JSON `{"detail": ...}` with the status the interface promises."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from csms.ocpp import commands
from csms.services.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

_DOMAIN_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (AlreadyExists, 409),
    (Conflict, 409),
    (InvalidInput, 422),
    (PermissionDenied, 403),
    (commands.UnknownAction, 404),
    (commands.InvalidPayload, 422),
    (commands.ChargerNotConnected, 409),
    (commands.ChargerTimeout, 504),
    (commands.ChargerRejected, 502),
]


def status_for(error: Exception) -> int:
    for error_type, status in _DOMAIN_STATUS:
        if isinstance(error, error_type):
            return status
    return 400


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status_for(error))


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(commands.CommandError, _domain_error)
