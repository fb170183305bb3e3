"""OCPI locations for operators: the places csms publishes to eMSPs, the chargers on each, and what OCPI tells of
their connectors (plug, power, tariffs). Every change is pushed to the registered eMSPs (docs/ocpi.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.ocpi.identity import IdentityMissing, OwnParty, own_party
from csms.ocpi.location_objects import evse_id, evse_uid, ocpi_status
from csms.services import ocpi_locations
from csms.services.ocpi_locations import ConnectorDetails, EvseView, LocationFields, LocationView

router = APIRouter(prefix="/api/admin/ocpi", tags=["ocpi"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown location, charger or tariff"},
    409: {"model": ErrorBody, "description": "A charger is on another location"},
    422: {"description": "A field breaks OCPI's rules (country, zone, facility, ...)"},
}
_TIME_OF_DAY = r"^([01]\d|2[0-3]):[0-5]\d$"
# What a PATCH may set to null; null for the others leaves them as they are.
_CLEARABLE = frozenset({"name", "postal_code", "state", "opening_times", "facilities", "parking_type"})


class RegularHours(BaseModel):
    weekday: int = Field(ge=1, le=7, description="1 is Monday, 7 Sunday")
    period_begin: str = Field(pattern=_TIME_OF_DAY, examples=["08:00"])
    period_end: str = Field(pattern=_TIME_OF_DAY, examples=["20:00"])


class Hours(BaseModel):
    twentyfourseven: bool
    regular_hours: list[RegularHours] = Field(default_factory=list, max_length=70)


class LocationUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=255, examples=["Depot North"])
    address: str | None = Field(default=None, min_length=1, max_length=45, examples=["Stationsplein 1"])
    city: str | None = Field(default=None, min_length=1, max_length=45, examples=["Amsterdam"])
    postal_code: str | None = Field(default=None, max_length=10, examples=["1012 AB"])
    state: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3")
    latitude: float | None = Field(default=None, ge=-90, le=90, examples=[52.378])
    longitude: float | None = Field(default=None, ge=-180, le=180, examples=[4.9])
    time_zone: str | None = Field(default=None, max_length=255, examples=["Europe/Amsterdam"])
    opening_times: Hours | None = Field(default=None, description="Left out: unknown")
    facilities: list[str] | None = Field(default=None, max_length=20, examples=[["CAFE", "WIFI"]])
    parking_type: str | None = Field(default=None, examples=["PARKING_LOT"])
    publish: bool | None = Field(default=None, description="false: eMSPs get it but must not show it to drivers")
    charge_point_ids: list[str] | None = Field(
        default=None, max_length=1_000, description="The chargers on it (a charger is on one location at most)"
    )


class LocationCreate(LocationUpdate):
    address: str = Field(min_length=1, max_length=45, examples=["Stationsplein 1"])
    city: str = Field(min_length=1, max_length=45, examples=["Amsterdam"])
    country: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3", examples=["NLD"])
    latitude: float = Field(ge=-90, le=90, examples=[52.378])
    longitude: float = Field(ge=-180, le=180, examples=[4.9])
    time_zone: str = Field(max_length=255, examples=["Europe/Amsterdam"])
    publish: bool = True


class ConnectorIn(BaseModel):
    standard: str = Field(default="IEC_62196_T2", description="OCPI ConnectorType", examples=["IEC_62196_T2_COMBO"])
    format: str = Field(default="SOCKET", description="SOCKET or CABLE")
    power_type: str = Field(
        default="AC_3_PHASE", description="AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC"
    )
    max_voltage: int = Field(default=230, ge=1, le=2_000)
    max_amperage: int = Field(default=32, ge=1, le=2_000)
    max_electric_power: int | None = Field(default=None, ge=1, le=2_000_000, description="W; left out: V x A x phases")
    tariff_ids: list[str] | None = Field(
        default=None, max_length=20, description="csms tariff ids; left out: the tariff in force there for everyone"
    )


class ConnectorOut(ConnectorIn):
    charge_point_id: str
    connector_id: int = Field(description="Connector (1.6) or EVSE (2.x)")


class EvseOut(ConnectorOut):
    evse_uid: str
    evse_id: str | None = Field(description="eMI3 EVSE id; none without csms's OCPI identity")
    status: str = Field(description="OCPI status, from the charger's live status")
    max_electric_power: int | None
    tariff_ids: list[str] | None = Field(description="The tariffs eMSPs are told")
    last_updated: datetime


class LocationOut(BaseModel):
    id: int
    name: str | None
    address: str
    city: str
    postal_code: str | None
    state: str | None
    country: str
    latitude: float
    longitude: float
    time_zone: str
    opening_times: Hours | None
    facilities: list[str]
    parking_type: str | None
    publish: bool
    charge_point_ids: list[str]
    evses: list[EvseOut]
    created_at: datetime
    last_updated: datetime


@router.post("/locations", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create_location(
    body: LocationCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> LocationOut:
    """A location eMSPs are told of (PUT to each), with its chargers."""
    fields = LocationFields(**body.model_dump(exclude={"charge_point_ids"}))
    location = await ocpi_locations.create_location(session, fields, body.charge_point_ids or [], now=runtime.clock())
    await runtime.ocpi_push.location_changed(location.id)
    return await _out(session, location.id, runtime.clock(), _own(runtime.settings))


@router.get("/locations", responses=_ERRORS)
async def list_locations(admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> list[LocationOut]:
    """Every OCPI location, with its EVSEs as eMSPs see them."""
    views = await ocpi_locations.views_of(session, await ocpi_locations.all_locations(session), now=runtime.clock())
    own = _own(runtime.settings)
    return [_location_out(view, own, await ocpi_locations.chargers_of(session, view.location.id)) for view in views]


@router.get("/locations/{location_id}", responses=_ERRORS)
async def get_location(location_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> LocationOut:
    await ocpi_locations.get_location(session, location_id)
    return await _out(session, location_id, runtime.clock(), _own(runtime.settings))


@router.patch("/locations/{location_id}", responses=_ERRORS)
async def update_location(
    location_id: int, body: LocationUpdate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> LocationOut:
    """Change the fields given; `charge_point_ids` replaces its chargers. eMSPs get it again (PUT)."""
    location = await ocpi_locations.get_location(session, location_id)
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True, exclude={"charge_point_ids"}).items()
        if value is not None or name in _CLEARABLE
    }
    await ocpi_locations.update_location(session, location, changes, body.charge_point_ids, now=runtime.clock())
    await runtime.ocpi_push.location_changed(location_id)
    return await _out(session, location_id, runtime.clock(), _own(runtime.settings))


@router.delete("/locations/{location_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_location(location_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> None:
    """Forget a location; eMSPs get it unpublished with its EVSEs REMOVED (OCPI deletes nothing)."""
    location = await ocpi_locations.get_location(session, location_id)
    await runtime.ocpi_push.location_removed(session, location)
    await ocpi_locations.delete_location(session, location)


@router.put("/connectors/{charge_point_id}/{connector_id}", responses=_ERRORS)
async def set_connector(
    charge_point_id: str,
    connector_id: int,
    body: ConnectorIn,
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConnectorOut:
    """A connector's (1.6) or EVSE's (2.x) plug, power and tariffs as OCPI tells them; its location is pushed."""
    values = body.model_dump()
    values["tariff_ids"] = None if body.tariff_ids is None else tuple(body.tariff_ids)
    details = ConnectorDetails(**values)
    location_id = await ocpi_locations.set_connector_details(
        session, charge_point_id, connector_id, details, now=runtime.clock()
    )
    if location_id is not None:
        await runtime.ocpi_push.location_changed(location_id)
    return ConnectorOut(charge_point_id=charge_point_id, connector_id=connector_id, **body.model_dump())


def _own(settings: Any) -> OwnParty | None:
    try:
        return own_party(settings)
    except IdentityMissing:
        return None


async def _out(session: SessionDep, location_id: int, now: datetime, own: OwnParty | None) -> LocationOut:
    location = await ocpi_locations.get_location(session, location_id)
    await session.refresh(location)
    (view,) = await ocpi_locations.views_of(session, [location], now=now)
    return _location_out(view, own, await ocpi_locations.chargers_of(session, location_id))


def _location_out(view: LocationView, own: OwnParty | None, charge_point_ids: list[str]) -> LocationOut:
    location = view.location
    return LocationOut(
        id=location.id,
        name=location.name,
        address=location.address,
        city=location.city,
        postal_code=location.postal_code,
        state=location.state,
        country=location.country,
        latitude=location.latitude,
        longitude=location.longitude,
        time_zone=location.time_zone,
        opening_times=Hours.model_validate(view.opening_times) if view.opening_times else None,
        facilities=list(view.facilities),
        parking_type=location.parking_type,
        publish=location.publish,
        charge_point_ids=charge_point_ids,
        evses=[_evse_out(evse, own) for evse in view.evses],
        created_at=location.created_at,
        last_updated=view.last_updated,
    )


def _evse_out(evse: EvseView, own: OwnParty | None) -> EvseOut:
    details = evse.details
    return EvseOut(
        charge_point_id=evse.charge_point_id,
        connector_id=evse.connector_id,
        evse_uid=evse_uid(evse.charge_point_id, evse.connector_id),
        evse_id=evse_id(own, evse.charge_point_id, evse.connector_id) if own else None,
        status=ocpi_status(evse.status, is_connected=evse.is_connected),
        standard=details.standard,
        format=details.format,
        power_type=details.power_type,
        max_voltage=details.max_voltage,
        max_amperage=details.max_amperage,
        max_electric_power=details.electric_power(),
        tariff_ids=list(evse.tariff_ids),
        last_updated=evse.last_updated,
    )
