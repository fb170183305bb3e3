"""Every error answer is JSON `{"detail": ...}` with the status the interface promises."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from csms.db.database_file import DatabaseFileReplaced
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
    (commands.CommandRefused, 422),
    (commands.ChargerNotConnected, 409),
    (commands.ChargerTimeout, 504),
    (commands.MessageBusDown, 503),
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


async def _value_not_storable(request: Request, error: Exception) -> JSONResponse:
    """A number beyond what the database stores (SQLite: 64 bits, PostgreSQL: the column's size) or
    text it refuses or cannot encode: the caller's input is invalid, so 422 in FastAPI's own validation shape."""
    if not _is_unstorable_value(error):
        raise error
    problem = {"type": "value_error", "loc": ["request"], "msg": f"a value cannot be stored: {type(error).__name__}"}
    return await request_validation_exception_handler(request, RequestValidationError([problem]))


def _is_unstorable_value(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, OverflowError | UnicodeEncodeError | asyncpg.DataError):
            return True
        error = error.__cause__ or getattr(error, "orig", None)
    return False


def _document_string_details(app: FastAPI) -> None:
    """Our own 422s (a rule of the domain, not a malformed field) carry `{"detail": "..."}`; FastAPI's
    schema only knows its list of field errors, so the documented 422 says either."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if error is not None:
                error["properties"]["detail"] = {"anyOf": [error["properties"]["detail"], {"type": "string"}]}
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document_string_details(app)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(commands.CommandError, _domain_error)
    # Connection-level failures only; a constraint violation is a bug and stays a 500.
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    # A database that stopped answering: the driver's connect or statement timeout (db/engine.py).
    app.add_exception_handler(TimeoutError, _database_unavailable)
    app.add_exception_handler(DatabaseFileReplaced, _database_unavailable)
    app.add_exception_handler(OverflowError, _value_not_storable)
    # Text that cannot be encoded (a lone surrogate) past the edge's check (storable_requests.py).
    app.add_exception_handler(UnicodeEncodeError, _value_not_storable)
    app.add_exception_handler(DBAPIError, _value_not_storable)
