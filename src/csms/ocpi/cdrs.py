"""The CDRs module with csms as the SENDER (§10.2.1): a roaming charge's CDR, POSTed to the eMSP whose token started
it once the charge stopped and csms froze its cost (ocpi/sessions.py queues it), and pulled with GET, paginated.

The CDR says what csms's own record of the transaction says: its energy, its times, the cost csms priced
(services/session_costs.py: net as excl_vat, with tax as incl_vat), the periods of that pricing as ChargingPeriods,
the tariffs applied in OCPI form (ocpi/tariff_objects.py), and the signed meter values the charger sent. Its id
is csms's transaction id, as its session_id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Response

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi.auth import FunctionalCaller
from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.identity import VERSION, OwnParty
from csms.ocpi.location_objects import evse_id
from csms.ocpi.pagination import Paging
from csms.ocpi.route import OcpiRoute
from csms.ocpi.sessions import cdr_token, charges_page, charging_periods, currency, hours, kwh, place_ids, price
from csms.ocpi.tariff_objects import tariff_object
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.services import ocpi_sessions
from csms.services.ocpi_sessions import RoamingCharge, SignedReading

router = APIRouter(prefix=f"/ocpi/{VERSION}/cdrs", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("cdrs", "SENDER", "cdrs"),))

# OCPP reading contexts to a SignedValue's nature (§10.4.8: Start, End, Intermediate).
_NATURES = {"Transaction.Begin": "Start", "Transaction.End": "End"}
_UNKNOWN_ENCODING = "UNKNOWN"


@router.get("")
async def list_cdrs(caller: FunctionalCaller, page: Paging, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The party's CDRs (the stopped charges on its tokens), by last_updated."""
    return await charges_page(caller, page, session, runtime, completed=True, module="cdrs", build=cdr_object)


def cdr_object(own: OwnParty, charge: RoamingCharge) -> dict[str, Any]:
    """The CDR of a stopped charge (§10.4.1)."""
    transaction = charge.transaction
    end = transaction.stop_timestamp or charge.last_updated
    periods = charging_periods(charge)
    parking = sum(
        (Decimal(str(d["volume"])) for p in periods for d in p["dimensions"] if d["type"] == "PARKING_TIME"),
        Decimal(0),
    )
    total_minutes = Decimal(str((end - transaction.start_timestamp).total_seconds())) / 60
    body: dict[str, Any] = {
        "country_code": own.country_code,
        "party_id": own.party_id,
        "id": str(transaction.id),
        "start_date_time": ocpi_timestamp(transaction.start_timestamp),
        "end_date_time": ocpi_timestamp(end),
        "session_id": str(transaction.id),
        "cdr_token": cdr_token(charge),
        "auth_method": charge.token.auth_method,
        "cdr_location": cdr_location(own, charge),
        "currency": currency(charge),
        "charging_periods": periods,
        "total_cost": price(0, 0),
        "total_energy": kwh(charge.energy_wh),
        "total_time": hours(max(total_minutes, Decimal(0))),
        "last_updated": ocpi_timestamp(charge.last_updated),
    }
    if charge.token.authorization_reference:
        body["authorization_reference"] = charge.token.authorization_reference
    if parking > 0:
        body["total_parking_time"] = float(parking)
    if charge.tariffs:
        body["tariffs"] = [tariff_object(own, tariff) for tariff in charge.tariffs]
    if charge.cost is not None:
        breakdown = charge.cost.breakdown
        body["total_cost"] = price(breakdown.get("net"), charge.cost.total)
        body["total_fixed_cost"] = price(breakdown.get("session_fee"))
        body["total_energy_cost"] = price(breakdown.get("energy"))
        body["total_time_cost"] = price(breakdown.get("charging_time"))
        if ocpi_sessions.decimal_of(breakdown.get("idle_time")) > 0:
            body["total_parking_cost"] = price(breakdown.get("idle_time"))
    signed = signed_data(charge.signed)
    if signed is not None:
        body["signed_data"] = signed
    return body


def cdr_location(own: OwnParty, charge: RoamingCharge) -> dict[str, Any]:
    """§10.4.3: where it charged, with the EVSE's plug; a charger on no published location gives what csms knows
    of it (its id as the location's, no address)."""
    ids = place_ids(charge)
    body: dict[str, Any] = {"id": ids["location_id"], "evse_uid": ids["evse_uid"], "connector_id": ids["connector_id"]}
    identifier = evse_id(own, charge.transaction.charge_point_id, charge.evse_number)
    if identifier is not None:
        body["evse_id"] = identifier
    if charge.location is not None:
        location = charge.location.location
        body.update(
            {
                "address": location.address,
                "city": location.city,
                "country": location.country,
                "coordinates": {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"},
            }
        )
        optional = {"name": location.name, "postal_code": location.postal_code, "state": location.state}
        body.update({name: value for name, value in optional.items() if value is not None})
    if charge.evse is not None:
        details = charge.evse.details
        body.update(
            {
                "connector_standard": details.standard,
                "connector_format": details.format,
                "connector_power_type": details.power_type,
            }
        )
    return body


def signed_data(readings: tuple[SignedReading, ...]) -> dict[str, Any] | None:
    """§10.4.7 SignedData: the signed values as the charger sent them, each with its nature and plain reading."""
    if not readings:
        return None
    first = readings[0]
    encoding = first.encoding_method or _encoding_of(first.signed)
    values = [
        {
            "nature": _NATURES.get(reading.context or "", "Intermediate"),
            "plain_data": (reading.plain or "")[:512],
            "signed_data": reading.signed[:5000],
        }
        for reading in readings
    ]
    body: dict[str, Any] = {"encoding_method": encoding[:36], "signed_values": values}
    if first.public_key:
        body["public_key"] = first.public_key[:512]
    return body


def _encoding_of(signed: str) -> str:
    """A 1.6 SignedData value names no encoding; OCMF announces itself."""
    return "OCMF" if signed.startswith("OCMF|") else _UNKNOWN_ENCODING
