"""Sites: chargers behind one grid connection, which csms keeps under its limit (services/site_load.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operations import ADMIN_ERRORS
from csms.api.schemas import ErrorBody
from csms.db.models import Site, SiteAllocation, Vehicle
from csms.runtime import Runtime
from csms.services import sites
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin", tags=["sites"])

_ERRORS = {**ADMIN_ERRORS, 409: {"model": ErrorBody, "description": "Name taken, or a charger on another site"}}
_TIME_OF_DAY = r"^([01]\d|2[0-3]):[0-5]\d$"


class SiteFields(BaseModel):
    max_current_a: float = Field(gt=0, le=10_000, description="The grid connection's limit per phase, in A")
    phases: Literal[1, 3] = 3
    min_current_a: float = Field(
        default=6.0,
        ge=0,
        le=80,
        description="Below this a car does not charge (IEC 61851: 6 A); a car that cannot get it waits",
    )
    strategy: Literal["equal", "priority"] = Field(
        default="equal", description="equal shares, or shares in proportion to the tag's or vehicle's priority"
    )
    charger_max_current_a: float = Field(
        default=32.0,
        gt=0,
        le=1_000,
        description="The most one charger gives; a charger that does not obey is counted at this",
    )
    timezone: str = Field(default="UTC", max_length=64, description="The zone of the limit windows' times")


class SiteCreate(SiteFields):
    name: str = Field(min_length=1, max_length=64, examples=["Depot North"])
    charge_point_ids: list[str] = Field(default_factory=list, max_length=1_000)


class SiteUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    max_current_a: float | None = Field(default=None, gt=0, le=10_000)
    phases: Literal[1, 3] | None = None
    min_current_a: float | None = Field(default=None, ge=0, le=80)
    strategy: Literal["equal", "priority"] | None = None
    charger_max_current_a: float | None = Field(default=None, gt=0, le=1_000)
    timezone: str | None = Field(default=None, max_length=64)
    charge_point_ids: list[str] | None = Field(default=None, max_length=1_000)


class LimitOverride(BaseModel):
    max_current_a: float = Field(ge=0, le=10_000, description="The limit per phase until `until`")
    until: datetime | None = Field(default=None, description="When it ends; without: until cleared")


class LimitWindowIn(BaseModel):
    start: str = Field(pattern=_TIME_OF_DAY, examples=["17:00"], description="Site time, HH:MM")
    end: str = Field(
        pattern=_TIME_OF_DAY, examples=["20:00"], description="Site time, HH:MM; before start: over midnight"
    )
    max_current_a: float = Field(ge=0, le=10_000)


class SessionAllocationOut(BaseModel):
    transaction_id: int
    charge_point_id: str
    connector_id: int = Field(description="Connector (1.6) or EVSE (2.x)")
    limit_a: float = Field(description="The limit in force on the session, as the charger accepted it")
    counted_a: float = Field(description="What the site counts for it: its charger's maximum when unresponsive")
    drawn_a: float | None = Field(description="What the car draws per phase, by its latest meter values")
    state: str = Field(description="charging, waiting (0 A until power frees up) or unresponsive")
    updated_at: datetime


class SiteOut(SiteFields):
    id: int
    name: str
    charge_point_ids: list[str]
    limit_in_force_a: float = Field(description="The override while it lasts, else the window of now, else max")
    limit_override_a: float | None
    limit_override_until: datetime | None
    limit_windows: list[LimitWindowIn]
    allocated_a: float = Field(description="The sum of what the site counts for its sessions")
    drawn_a: float | None = Field(description="The sum of what the cars draw, where known")
    sessions: list[SessionAllocationOut]
    allocator_node: str | None = Field(description="The csms node that allocates for the site now")
    created_at: datetime


class SiteSampleOut(BaseModel):
    at: datetime
    limit_a: float
    allocated_a: float
    drawn_a: float | None


class PriorityIn(BaseModel):
    charging_priority: int = Field(ge=1, le=100, description="Its weight on a site sharing power by priority")


@router.post("/sites", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create_site(body: SiteCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> SiteOut:
    """A site with its chargers (each on one site at most); csms keeps them under its limit from now on."""
    fields = body.model_dump(exclude={"charge_point_ids"})
    site = await sites.create_site(session, sites.SiteSettings(**fields), body.charge_point_ids, now=runtime.clock())
    await runtime.session_watch.site_load.site_changed(site.id)
    return await _site_out(session, site, runtime)


@router.get("/sites", responses=ADMIN_ERRORS)
async def list_sites(admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> list[SiteOut]:
    return [await _site_out(session, site, runtime) for site in await sites.list_sites(session)]


@router.get("/sites/{site_id}", responses=ADMIN_ERRORS)
async def get_site(site_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> SiteOut:
    """The site and its live allocation: each charging session's limit and draw, and the totals."""
    return await _site_out(session, await sites.get_site(session, site_id), runtime)


@router.patch("/sites/{site_id}", responses=_ERRORS)
async def update_site(
    site_id: int, body: SiteUpdate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> SiteOut:
    """Change a site's settings or its chargers (`charge_point_ids`: all of them); the allocation follows
    at once, and chargers that left have the site's limits lifted."""
    site = await sites.get_site(session, site_id)
    changes = body.model_dump(exclude_unset=True, exclude={"charge_point_ids"})
    settings = sites.SiteSettings(**{**_settings_of(site), **{k: v for k, v in changes.items() if v is not None}})
    site, left = await sites.update_site(session, site_id, settings, body.charge_point_ids)
    await runtime.session_watch.site_load.site_changed(site_id, left=left)
    return await _site_out(session, site, runtime)


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_ERRORS)
async def delete_site(site_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Delete a site; its chargers have the site's limits lifted."""
    members = await sites.delete_site(session, site_id)
    await runtime.session_watch.site_load.site_changed(site_id, left=members)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/sites/{site_id}/limit", responses=ADMIN_ERRORS)
async def set_site_limit(
    site_id: int, body: LimitOverride, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> SiteOut:
    """An energy manager's or demand-response limit, over the site's own until `until`: the cars' limits
    follow within seconds."""
    site = await sites.set_override(session, site_id, body.max_current_a, body.until, now=runtime.clock())
    await runtime.session_watch.site_load.site_changed(site_id)
    return await _site_out(session, site, runtime)


@router.delete("/sites/{site_id}/limit", responses=ADMIN_ERRORS)
async def clear_site_limit(site_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> SiteOut:
    """End the override: the site's windows and own limit apply again."""
    site = await sites.clear_override(session, site_id)
    await runtime.session_watch.site_load.site_changed(site_id)
    return await _site_out(session, site, runtime)


@router.put("/sites/{site_id}/limit_windows", responses=ADMIN_ERRORS)
async def set_limit_windows(
    site_id: int, body: list[LimitWindowIn], admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> SiteOut:
    """The site's limits for parts of every day (e.g. 17:00 to 20:00 lower), replacing those it had."""
    windows = [sites.LimitWindow(_minute(w.start), _minute(w.end), w.max_current_a) for w in body]
    await sites.set_windows(session, site_id, windows)
    await runtime.session_watch.site_load.site_changed(site_id)
    return await _site_out(session, await sites.get_site(session, site_id), runtime)


@router.get("/sites/{site_id}/samples", responses=ADMIN_ERRORS)
async def site_samples(
    site_id: int,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    hours: Annotated[int, Query(ge=1, le=24 * 31, description="How far back")] = 24,
) -> list[SiteSampleOut]:
    """The site's current over time (about one sample a minute while it is busy): its limit, what csms
    allotted, what the cars drew. For the chart of its day."""
    await sites.get_site(session, site_id)
    found = await sites.samples(session, site_id, since=runtime.clock() - timedelta(hours=hours))
    return [SiteSampleOut(at=s.at, limit_a=s.limit_a, allocated_a=s.allocated_a, drawn_a=s.drawn_a) for s in found]


@router.put("/vehicles/{vehicle_id}/charging_priority", responses=ADMIN_ERRORS)
async def set_vehicle_priority(vehicle_id: int, body: PriorityIn, admin: AdminUser, session: SessionDep) -> PriorityIn:
    """A vehicle's weight on sites that share power by priority (a fleet vehicle: more than 1)."""
    vehicle = await session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise NotFound(f"no vehicle {vehicle_id}")
    vehicle.charging_priority = body.charging_priority
    await session.commit()
    return PriorityIn(charging_priority=vehicle.charging_priority)


async def _site_out(session: AsyncSession, site: Site, runtime: Runtime) -> SiteOut:
    windows = await sites.windows_of(session, site.id)
    allocations = await sites.allocations(session, site.id)
    draws = [a.drawn_a for a in allocations if a.drawn_a is not None]
    return SiteOut(
        **_settings_of(site),
        id=site.id,
        charge_point_ids=await sites.charger_ids(session, site.id),
        limit_in_force_a=sites.limit_in_force(site, windows, runtime.clock()),
        limit_override_a=site.limit_override_a,
        limit_override_until=site.limit_override_until,
        limit_windows=[
            LimitWindowIn(
                start=_time_of_day(w.start_minute), end=_time_of_day(w.end_minute), max_current_a=w.max_current_a
            )
            for w in windows
        ],
        allocated_a=round(sum(a.counted_a for a in allocations), 1),
        drawn_a=round(sum(draws), 1) if draws else None,
        sessions=[_allocation_out(a) for a in allocations],
        allocator_node=site.allocator_node,
        created_at=site.created_at,
    )


def _settings_of(site: Site) -> dict[str, object]:
    return {name: getattr(site, name) for name in (*SiteFields.model_fields, "name")}


def _allocation_out(allocation: SiteAllocation) -> SessionAllocationOut:
    return SessionAllocationOut(
        transaction_id=allocation.transaction_id,
        charge_point_id=allocation.charge_point_id,
        connector_id=allocation.connector_id,
        limit_a=allocation.limit_a,
        counted_a=allocation.counted_a,
        drawn_a=allocation.drawn_a,
        state=allocation.state,
        updated_at=allocation.updated_at,
    )


def _minute(time_of_day: str) -> int:
    hours, minutes = time_of_day.split(":")
    return int(hours) * 60 + int(minutes)


def _time_of_day(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
