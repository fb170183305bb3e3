"""The sessions module with csms as the SENDER (§9.2.1): a roaming charge's Session, pushed to the eMSP whose token
started it (PUT at the start, PATCH as its meter values come in, at most every CSMS_OCPI_SESSION_UPDATE_INTERVAL
seconds, and COMPLETED at the stop, with the CDR: ocpi/cdrs.py), and pulled with GET, paginated.

The pushes are queued by ocpi/session_feed.py. A Session's id is csms's transaction id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Response

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi.auth import FunctionalCaller
from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.identity import VERSION, OwnParty, own_party, version_url
from csms.ocpi.location_objects import evse_uid
from csms.ocpi.pagination import Paging, page_response
from csms.ocpi.route import OcpiRoute
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.services import ocpi_sessions
from csms.services.ocpi_sessions import RoamingCharge

router = APIRouter(prefix=f"/ocpi/{VERSION}/sessions", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("sessions", "SENDER", "sessions"),))

ACTIVE, COMPLETED = "ACTIVE", "COMPLETED"
# A charge no tariff priced still names a currency (the Session's is required).
FALLBACK_CURRENCY = "EUR"
_WH_PER_KWH = Decimal(1000)
_MINUTES_PER_HOUR = Decimal(60)


@router.get("")
async def list_sessions(caller: FunctionalCaller, page: Paging, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The party's Sessions (those on its tokens), by last_updated."""
    return await charges_page(caller, page, session, runtime, completed=False, module="sessions", build=session_object)


async def charges_page(
    caller: FunctionalCaller,
    page: Paging,
    session: SessionDep,
    runtime: RuntimeDep,
    *,
    completed: bool,
    module: str,
    build: Callable[[OwnParty, RoamingCharge], dict[str, Any]],
) -> Response:
    """One page of the party's charges (those on its tokens; with `completed`, the stopped ones) as `build`
    makes their objects: the list of the sessions module, and of the cdrs module."""
    charges, total = await ocpi_sessions.page_of_charges(
        session,
        party_key=caller.caller.party.id,
        owner=(caller.sender.country_code, caller.sender.party_id),
        completed=completed,
        offset=page.offset,
        limit=page.limit,
        date_from=page.date_from,
        date_to=page.date_to,
        now=runtime.clock(),
    )
    own = own_party(runtime.settings)
    items = [build(own, charge) for charge in charges]
    return page_response(
        items, total=total, page=page, url=f"{version_url(runtime.settings)}/{module}", now=runtime.clock()
    )


# -- the Session object (§9.3.1) and the parts a CDR shares ------------------------------------------------------


def session_object(own: OwnParty, charge: RoamingCharge) -> dict[str, Any]:
    transaction = charge.transaction
    body: dict[str, Any] = {
        "country_code": own.country_code,
        "party_id": own.party_id,
        "id": str(transaction.id),
        "start_date_time": ocpi_timestamp(transaction.start_timestamp),
        "kwh": kwh(charge.energy_wh),
        "cdr_token": cdr_token(charge),
        "auth_method": charge.token.auth_method,
        **place_ids(charge),
        "currency": currency(charge),
        "charging_periods": charging_periods(charge),
        "status": COMPLETED if charge.is_completed else ACTIVE,
        "last_updated": ocpi_timestamp(charge.last_updated),
    }
    if transaction.stop_timestamp is not None:
        body["end_date_time"] = ocpi_timestamp(transaction.stop_timestamp)
    if charge.token.authorization_reference:
        body["authorization_reference"] = charge.token.authorization_reference
    if charge.cost is not None:
        body["total_cost"] = price(charge.cost.breakdown.get("net"), charge.cost.total)
    return body


def session_update(own: OwnParty, charge: RoamingCharge) -> dict[str, Any]:
    """The PATCH of a Session: what changes while it runs (§9.2.2.3 requires last_updated)."""
    full = session_object(own, charge)
    fields = ("kwh", "charging_periods", "total_cost", "status", "end_date_time", "last_updated")
    return {name: full[name] for name in fields if name in full}


def cdr_token(charge: RoamingCharge) -> dict[str, Any]:
    token = charge.token
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.token_type,
        "contract_id": token.contract_id,
    }


def place_ids(charge: RoamingCharge) -> dict[str, str]:
    """The Location, EVSE and Connector of the locations module; a charger on no location stands for its own."""
    transaction = charge.transaction
    location_id = str(charge.location.location.id) if charge.location is not None else transaction.charge_point_id
    connector = str(charge.evse.evse_connector_id) if charge.evse is not None else "1"
    return {
        "location_id": location_id[:36],
        "evse_uid": evse_uid(transaction.charge_point_id, charge.evse_number),
        "connector_id": connector,
    }


def currency(charge: RoamingCharge) -> str:
    if charge.cost is not None:
        return charge.cost.currency
    if charge.tariffs:
        return charge.tariffs[0].currency
    return FALLBACK_CURRENCY


def kwh(energy_wh: Decimal | int) -> float:
    return float(round(Decimal(energy_wh) / _WH_PER_KWH, 4))


def hours(minutes: Decimal) -> float:
    return float(round(minutes / _MINUTES_PER_HOUR, 4))


def price(excl_vat: Any, incl_vat: Any = None) -> dict[str, float]:
    body = {"excl_vat": float(ocpi_sessions.decimal_of(excl_vat))}
    if incl_vat is not None:
        body["incl_vat"] = float(ocpi_sessions.decimal_of(incl_vat))
    return body


def charging_periods(charge: RoamingCharge) -> list[dict[str, Any]]:
    """One ChargingPeriod per slice csms priced (a tariff change starts a new one): ENERGY in kWh, TIME charging
    and PARKING_TIME idle in hours; a charge no tariff priced is one period of its energy and duration."""
    if charge.cost is not None and charge.cost.breakdown.get("slices"):
        periods = []
        for piece in charge.cost.breakdown["slices"]:
            dimensions = [
                {"type": "ENERGY", "volume": kwh(ocpi_sessions.decimal_of(piece["energy_wh"]))},
                {"type": "TIME", "volume": hours(ocpi_sessions.decimal_of(piece["charging_minutes"]))},
            ]
            idle = ocpi_sessions.decimal_of(piece["idle_minutes"])
            if idle > 0:
                dimensions.append({"type": "PARKING_TIME", "volume": hours(idle)})
            period: dict[str, Any] = {
                "start_date_time": ocpi_timestamp(datetime.fromisoformat(piece["from"])),
                "dimensions": dimensions,
            }
            if piece.get("tariff_id") is not None:
                period["tariff_id"] = str(piece["tariff_id"])
            periods.append(period)
        return periods
    transaction = charge.transaction
    end = charge.last_updated
    minutes = Decimal(str((end - transaction.start_timestamp).total_seconds())) / 60
    return [
        {
            "start_date_time": ocpi_timestamp(transaction.start_timestamp),
            "dimensions": [
                {"type": "ENERGY", "volume": kwh(charge.energy_wh)},
                {"type": "TIME", "volume": hours(max(minutes, Decimal(0)))},
            ],
        }
    ]
