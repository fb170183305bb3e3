"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from csms.runtime import Runtime

router = APIRouter(tags=["operations"])

# A dependency that takes longer than this to answer counts as down: the probe must answer in time.
_CHECK_TIMEOUT = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


@router.get(
    "/readyz", responses={503: {"description": "The database or the bus is unreachable, or the database file gone"}}
)
async def readyz(request: Request) -> JSONResponse:
    """The database and the message bus answer, so this node can take traffic; certificates that expire
    soon (or have) are warnings, which never make the node unready."""
    runtime: Runtime = request.app.state.runtime
    database, bus = await asyncio.gather(_database_problem(runtime), _bus_problem(runtime))
    problems = {name: problem for name, problem in (("database", database), ("bus", bus)) if problem}
    body: dict[str, object] = {"database": database or "ok", "bus": bus or "ok", **_certificates(runtime)}
    if problems:
        detail = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        return JSONResponse({"status": "unavailable", "detail": detail, **body}, 503)
    return JSONResponse({"status": "ok", **body})


async def _database_problem(runtime: Runtime) -> str | None:
    if runtime.database_file is not None and (problem := runtime.database_file.problem()):
        return problem  # "missing" or "replaced": what this node writes no restart would find
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT), runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        return type(error).__name__
    return None


async def _bus_problem(runtime: Runtime) -> str | None:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            healthy = await runtime.bus.is_healthy()
    except Exception as error:
        return type(error).__name__
    return None if healthy else "unreachable"


def _certificates(runtime: Runtime) -> dict[str, object]:
    """A warning, not a failure: every node serves the same certificate, so failing readiness would take
    them all out of the load balancer at once, an outage for every charger and user, while an expired
    certificate stops only the chargers that check dates, and no restart renews it."""
    now = runtime.clock()
    expiries = runtime.certificates.expiries()
    if not expiries:
        return {}
    within = runtime.certificates.warn_within
    states = {expiry.name: expiry.warning(now, within=within) or "ok" for expiry in expiries}
    warnings = [state for state in states.values() if state != "ok"]
    return {"certificates": states, **({"warnings": warnings} if warnings else {})}
