"""Every error answer is JSON `{"detail": ...}` with the status the interface promises."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from csms.ocpp import commands
from csms.services.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)

logger = logging.getLogger(__name__)

_DOMAIN_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (AlreadyExists, 409),
    (Conflict, 409),
    (InvalidInput, 422),
    (PermissionDenied, 403),
    (PayloadTooLarge, 413),
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


async def _database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", type(error).__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(commands.CommandError, _domain_error)
    # Connection-level failures only; a constraint violation is a bug and stays a 500.
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
