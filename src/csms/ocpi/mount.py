"""Everything csms serves under /ocpi: the versions module, each module of MODULES, and OCPI answers for the rest.

A new module (locations, tariffs, tokens, ...) defines an `OcpiModule` and is added to MODULES: its routes are
served and its endpoints appear in the version details.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, FastAPI, Response

from csms.ocpi import cdrs, commands, credentials, locations, sessions, tariffs, tokens
from csms.ocpi.envelope import OcpiError, OcpiStatus
from csms.ocpi.identity import VERSION
from csms.ocpi.route import OcpiRoute
from csms.ocpi.versions import ModuleEndpoint, OcpiModule, router_for

MODULES: tuple[OcpiModule, ...] = (
    credentials.MODULE,
    locations.MODULE,
    tariffs.MODULE,
    tokens.MODULE,
    sessions.MODULE,
    cdrs.MODULE,
    commands.MODULE,
)

_VERSION_NUMBER = re.compile(r"^\d+(\.\d+)+$")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def install(app: FastAPI) -> None:
    endpoints = tuple(endpoint for module in MODULES for endpoint in module.endpoints)
    app.include_router(router_for(endpoints))
    for module in MODULES:
        app.include_router(module.router)
    app.include_router(_fallback(endpoints))  # last: it matches every /ocpi path


def _fallback(endpoints: tuple[ModuleEndpoint, ...]) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=OcpiRoute)
    paths = {f"{VERSION}/{endpoint.path}" for endpoint in endpoints} | {"versions", VERSION}

    @router.api_route("/ocpi/{rest:path}", methods=_METHODS)
    async def unknown(rest: str) -> Response:
        raise _refusal(rest.strip("/"), paths)

    return router


def _refusal(path: str, paths: set[str]) -> OcpiError:
    if path in paths:
        return OcpiError(OcpiStatus.CLIENT_ERROR, "this OCPI endpoint does not take that method", http_status=405)
    version = path.split("/", 1)[0]
    if _VERSION_NUMBER.match(version) and version != VERSION:
        return OcpiError(OcpiStatus.UNSUPPORTED_VERSION, f"csms speaks OCPI {VERSION} only", http_status=404)
    return OcpiError(OcpiStatus.CLIENT_ERROR, "no OCPI endpoint here", http_status=404)
