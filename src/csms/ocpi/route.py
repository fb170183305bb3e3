"""The route class of every /ocpi route: errors answered in the OCPI envelope, X-Correlation-ID echoed (§4.2).

X-Request-ID is echoed for every route by the observation middleware (observability/middleware.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from csms.ocpi.envelope import OcpiError, OcpiStatus, error_response
from csms.ocpi.headers import CORRELATION_ID
from csms.ocpi.identity import IdentityMissing
from csms.services.errors import DomainError, InvalidInput, NotFound

_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class OcpiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                response = await handle(request)
            except (OcpiError, RequestValidationError, DomainError, IdentityMissing) as error:
                response = error_response(ocpi_error_of(error), now=_now(request))
            response.headers[CORRELATION_ID] = correlation_id_of(request)
            return response

        return answer


def ocpi_error_of(error: Exception) -> OcpiError:
    """One edge where the errors of validation, the services and the settings become OCPI answers."""
    if isinstance(error, OcpiError):
        return error
    if isinstance(error, RequestValidationError):
        return _invalid_request(error)
    if isinstance(error, IdentityMissing):
        return OcpiError(OcpiStatus.SERVER_ERROR, str(error), http_status=500)
    if isinstance(error, NotFound):
        return OcpiError(OcpiStatus.CLIENT_ERROR, str(error), http_status=404)
    if isinstance(error, InvalidInput):
        return OcpiError(OcpiStatus.INVALID_PARAMETERS, str(error))
    return OcpiError(OcpiStatus.CLIENT_ERROR, str(error))


def _invalid_request(error: RequestValidationError) -> OcpiError:
    problems = list(error.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        # Not JSON at all: the transport layer refuses it (§5).
        return OcpiError(OcpiStatus.INVALID_PARAMETERS, "the body is not valid JSON", http_status=400)
    described = "; ".join(_describe(problem) for problem in problems[:5])
    return OcpiError(OcpiStatus.INVALID_PARAMETERS, f"invalid or missing parameters: {described}")


def _describe(problem: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "body"
    return f"{where}: {problem.get('msg', 'invalid')}"


def correlation_id_of(request: Request) -> str:
    """The caller's X-Correlation-ID, or a new one when it sent none (or one unfit for a header and a log)."""
    candidate = request.headers.get(CORRELATION_ID, "")
    return candidate if _ACCEPTABLE_ID.match(candidate) else str(uuid.uuid4())


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.runtime.clock
    return clock()
