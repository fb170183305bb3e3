"""The versions module (§6): the versions csms speaks and, for 2.2.1, the endpoints of the modules it serves.

A module is an `OcpiModule`: its router and the endpoints it adds to the version details; mount.py lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Response

from csms.api.deps import RuntimeDep
from csms.ocpi.auth import ConfigurationCaller
from csms.ocpi.envelope import ocpi_response
from csms.ocpi.identity import VERSION, version_url
from csms.ocpi.route import OcpiRoute


@dataclass(frozen=True, slots=True)
class ModuleEndpoint:
    """One endpoint of the version details: a module identifier (ModuleID), csms's interface role in it, and its
    path below /ocpi/2.2.1."""

    identifier: str
    role: Literal["SENDER", "RECEIVER"]
    path: str


@dataclass(frozen=True, slots=True)
class OcpiModule:
    router: APIRouter
    endpoints: tuple[ModuleEndpoint, ...]


def router_for(endpoints: Sequence[ModuleEndpoint]) -> APIRouter:
    """GET /ocpi/versions and GET /ocpi/2.2.1, for a party's token A before registration or its token after."""
    router = APIRouter(prefix="/ocpi", route_class=OcpiRoute, include_in_schema=False)

    @router.get("/versions")
    async def get_versions(caller: ConfigurationCaller, runtime: RuntimeDep) -> Response:
        return ocpi_response([{"version": VERSION, "url": version_url(runtime.settings)}], now=runtime.clock())

    @router.get(f"/{VERSION}")
    async def get_version_details(caller: ConfigurationCaller, runtime: RuntimeDep) -> Response:
        base = version_url(runtime.settings)
        listed = [{"identifier": e.identifier, "role": e.role, "url": f"{base}/{e.path}"} for e in endpoints]
        return ocpi_response({"version": VERSION, "endpoints": listed}, now=runtime.clock())

    return router
