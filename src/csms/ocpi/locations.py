"""The locations module with csms as the SENDER (§8.2.1): a party pulls csms's Locations (paginated, by
last_updated) or one Location, EVSE or Connector. Changes are pushed to parties as well (ocpi/push.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi.auth import FunctionalCaller
from csms.ocpi.envelope import OcpiError, OcpiStatus, ocpi_response
from csms.ocpi.identity import VERSION, own_party, version_url
from csms.ocpi.location_objects import connector_object, evse_object, evse_uid, location_object
from csms.ocpi.pagination import Paging, page_response
from csms.ocpi.route import OcpiRoute
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.services import ocpi_locations
from csms.services.errors import NotFound
from csms.services.ocpi_locations import EvseView, LocationView

router = APIRouter(prefix=f"/ocpi/{VERSION}/locations", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("locations", "SENDER", "locations"),))


@router.get("")
async def list_locations(caller: FunctionalCaller, page: Paging, session: SessionDep, runtime: RuntimeDep) -> Response:
    own, now = own_party(runtime.settings), runtime.clock()
    rows, total = await ocpi_locations.page_of_locations(
        session, offset=page.offset, limit=page.limit, date_from=page.date_from, date_to=page.date_to
    )
    items = [location_object(own, view) for view in await ocpi_locations.views_of(session, rows, now=now)]
    url = f"{version_url(runtime.settings)}/locations"
    return page_response(items, total=total, page=page, url=url, now=now)


@router.get("/{location_id}")
async def get_location(
    location_id: str, caller: FunctionalCaller, session: SessionDep, runtime: RuntimeDep
) -> Response:
    view = await _view(session, location_id, runtime.clock())
    return ocpi_response(location_object(own_party(runtime.settings), view), now=runtime.clock())


@router.get("/{location_id}/{uid}")
async def get_evse(
    location_id: str, uid: str, caller: FunctionalCaller, session: SessionDep, runtime: RuntimeDep
) -> Response:
    evse = _evse(await _view(session, location_id, runtime.clock()), uid)
    return ocpi_response(evse_object(own_party(runtime.settings), evse), now=runtime.clock())


@router.get("/{location_id}/{uid}/{connector_id}")
async def get_connector(
    location_id: str, uid: str, connector_id: str, caller: FunctionalCaller, session: SessionDep, runtime: RuntimeDep
) -> Response:
    evse = _evse(await _view(session, location_id, runtime.clock()), uid)
    if connector_id != str(evse.evse_connector_id):
        raise _unknown(f"EVSE {uid} of location {location_id} has no connector {connector_id}")
    return ocpi_response(connector_object(evse), now=runtime.clock())


async def _view(session: AsyncSession, location_id: str, now: datetime) -> LocationView:
    if not location_id.isdigit() or len(location_id) > 18:
        raise _unknown(f"no location {location_id}")
    try:
        location = await ocpi_locations.get_location(session, int(location_id))
    except NotFound:
        raise _unknown(f"no location {location_id}") from None
    (view,) = await ocpi_locations.views_of(session, [location], now=now)
    return view


def _evse(view: LocationView, uid: str) -> EvseView:
    for evse in view.evses:
        if evse_uid(evse.charge_point_id, evse.connector_id) == uid:
            return evse
    raise _unknown(f"location {view.location.id} has no EVSE {uid}")


def _unknown(message: str) -> OcpiError:
    # The URL names no object: HTTP 404 with OCPI's 2003, unknown location (§5.2).
    return OcpiError(OcpiStatus.UNKNOWN_LOCATION, message, http_status=404)
