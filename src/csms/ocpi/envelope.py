"""The OCPI response envelope {data, status_code, status_message, timestamp} (§4.1.7) and the status codes (§5)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from fastapi.responses import JSONResponse


class OcpiStatus(IntEnum):
    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    CLIENT_API_UNUSABLE = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """A request refused with an OCPI status code. The HTTP status is 200 unless the transport layer refused it:
    a request that is valid JSON and reaches an existing resource gets no HTTP error (§5)."""

    def __init__(self, status: OcpiStatus, message: str, *, http_status: int = 200) -> None:
        super().__init__(message)
        self.status, self.message, self.http_status = status, message, http_status


def unauthorized(message: str) -> OcpiError:
    """A missing or unknown credentials token, or token A on a functional module: HTTP 401 (§4.1.2)."""
    return OcpiError(OcpiStatus.CLIENT_ERROR, message, http_status=401)


def ocpi_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, one of the forms §16.2 allows (never +00:00)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(data: Any, *, now: datetime, status: OcpiStatus = OcpiStatus.SUCCESS, message: str | None = None) -> Any:
    body: dict[str, Any] = {"status_code": int(status), "timestamp": ocpi_timestamp(now)}
    if data is not None:
        body["data"] = data
    if message is not None:
        body["status_message"] = message
    return body


def ocpi_response(
    data: Any, *, now: datetime, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A success answer; `data` None leaves the field out, as §4.1.7 advises where the module names none."""
    return JSONResponse(envelope(data, now=now, message="Success"), status_code=status_code, headers=headers)


def error_response(error: OcpiError, *, now: datetime) -> JSONResponse:
    body = envelope(None, now=now, status=error.status, message=error.message)
    return JSONResponse(body, status_code=error.http_status)
