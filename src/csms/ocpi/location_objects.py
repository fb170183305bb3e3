"""OCPI 2.2.1's Location, EVSE and Connector objects (§8.3) built from csms's locations and chargers.

Ids: a Location's is csms's location id; an EVSE's `uid` is `<charge point id>-<connector>` (the connector of
1.6, the EVSE of 2.x), or a digest of the charge point id when that would pass 36 characters; its `evse_id` is
eMI3's `<country>*<party>*E<charge point id, letters and digits only>*<connector>`, left out past 48 characters.
A Connector's id is the connector on the EVSE (1 for 1.6).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.identity import OwnParty
from csms.services.ocpi_locations import EvseView, LocationView

# OCPP connector status (1.6 ChargePointStatus, 2.x ConnectorStatusEnumType) to OCPI's (§8.4.22). Preparing is
# AVAILABLE: the charger waits for a driver's authorization or a car, so a session can start there (an eMSP's
# START_SESSION for the driver who plugged in); BLOCKED means a physical barrier, which OCPP does not report.
_STATUSES = {
    "Available": "AVAILABLE",
    "Preparing": "AVAILABLE",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Faulted": "OUTOFORDER",
    "Unavailable": "INOPERATIVE",
}
UNKNOWN, REMOVED = "UNKNOWN", "REMOVED"
_UID_LENGTH, _EVSE_ID_LENGTH = 36, 48


def ocpi_status(ocpp_status: str | None, *, is_connected: bool) -> str:
    """The EVSE's OCPI status: UNKNOWN while its charger is offline or never reported one."""
    if not is_connected or ocpp_status is None:
        return UNKNOWN
    return _STATUSES.get(ocpp_status, UNKNOWN)


def evse_uid(charge_point_id: str, connector_id: int) -> str:
    uid = f"{charge_point_id}-{connector_id}"
    if len(uid) <= _UID_LENGTH:
        return uid
    digest = hashlib.sha256(charge_point_id.encode()).hexdigest()
    return f"{digest[: _UID_LENGTH - 1 - len(str(connector_id))]}-{connector_id}"


def evse_id(own: OwnParty, charge_point_id: str, connector_id: int) -> str | None:
    outlet = re.sub(r"[^A-Za-z0-9]", "", charge_point_id).upper()
    value = f"{own.country_code}*{own.party_id}*E{outlet}*{connector_id}"
    return value if outlet and len(value) <= _EVSE_ID_LENGTH else None


def connector_object(evse: EvseView) -> dict[str, Any]:
    details = evse.details
    connector: dict[str, Any] = {
        "id": str(evse.evse_connector_id),
        "standard": details.standard,
        "format": details.format,
        "power_type": details.power_type,
        "max_voltage": details.max_voltage,
        "max_amperage": details.max_amperage,
        "max_electric_power": details.electric_power(),
        "last_updated": ocpi_timestamp(evse.last_updated),
    }
    if evse.tariff_ids:
        connector["tariff_ids"] = list(evse.tariff_ids)
    return connector


def evse_object(own: OwnParty, evse: EvseView, *, status: str | None = None) -> dict[str, Any]:
    """`status` overrides the live one (REMOVED for an EVSE of a location that is gone)."""
    body: dict[str, Any] = {
        "uid": evse_uid(evse.charge_point_id, evse.connector_id),
        "status": status or ocpi_status(evse.status, is_connected=evse.is_connected),
        "connectors": [connector_object(evse)],
        "last_updated": ocpi_timestamp(evse.last_updated),
    }
    identifier = evse_id(own, evse.charge_point_id, evse.connector_id)
    if identifier is not None:
        body["evse_id"] = identifier
    return body


def location_object(own: OwnParty, view: LocationView, *, removed: bool = False) -> dict[str, Any]:
    """The Location; `removed`: the operator deleted it, so it is unpublished and its EVSEs REMOVED (§8.1)."""
    location = view.location
    body: dict[str, Any] = {
        "country_code": own.country_code,
        "party_id": own.party_id,
        "id": str(location.id),
        "publish": location.publish and not removed,
        "address": location.address,
        "city": location.city,
        "country": location.country,
        "coordinates": {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"},
        "evses": [evse_object(own, evse, status=REMOVED if removed else None) for evse in view.evses],
        "time_zone": location.time_zone,
        "last_updated": ocpi_timestamp(view.last_updated),
    }
    optional = {
        "name": location.name,
        "postal_code": location.postal_code,
        "state": location.state,
        "parking_type": location.parking_type,
        "facilities": list(view.facilities) or None,
        "opening_times": view.opening_times,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body
