"""OCPI locations: the places csms publishes to eMSPs, the chargers on each, and what OCPI tells of their connectors.

An operator keeps a location (address, coordinates, opening times, facilities, ...) and puts chargers on it, one
location per charger at most. Each connector (1.6) or EVSE (2.x, which csms keeps as one connector row) of those
chargers is one OCPI EVSE with one connector; its plug and power are the operator's `ConnectorDetails` or, until
set, `DEFAULT_DETAILS`. What a party sees is the `LocationView`: the wire form is built in csms/ocpi/locations.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, Connector, OcpiConnector, OcpiLocation, OcpiLocationCharger, TariffAssignment
from csms.services import tariffs
from csms.services.errors import Conflict, InvalidInput, NotFound

STANDARDS = frozenset(
    {
        "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F",
        "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M",
        "DOMESTIC_N", "DOMESTIC_O", "GBT_AC", "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16",
        "IEC_60309_2_three_32", "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
        "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50",
        "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN",
        "TESLA_R", "TESLA_S",
    }
)  # fmt: skip
FORMATS = frozenset({"SOCKET", "CABLE"})
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
FACILITIES = frozenset(
    {
        "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE", "MUSEUM",
        "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION", "TRAIN_STATION", "AIRPORT",
        "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
    }
)  # fmt: skip
PARKING_TYPES = frozenset(
    {"ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"}
)
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}


@dataclass(frozen=True, slots=True)
class ConnectorDetails:
    """A connector's plug and power as OCPI tells them; `tariff_ids` None: the tariffs in force there."""

    standard: str = "IEC_62196_T2"
    format: str = "SOCKET"
    power_type: str = "AC_3_PHASE"
    max_voltage: int = 230
    max_amperage: int = 32
    max_electric_power: int | None = None
    tariff_ids: tuple[str, ...] | None = None

    def electric_power(self) -> int:
        """The given maximum, else voltage x amperage x phases (22 080 W for the defaults)."""
        if self.max_electric_power is not None:
            return self.max_electric_power
        return self.max_voltage * self.max_amperage * _PHASES[self.power_type]


# A Type 2 socket on three phases of 230 V and 32 A: the most common public AC charger in Europe.
DEFAULT_DETAILS = ConnectorDetails()


@dataclass(frozen=True, slots=True)
class LocationFields:
    """What an operator edits of a location; on update, the fields given replace the stored ones."""

    address: str
    city: str
    country: str
    latitude: float
    longitude: float
    time_zone: str
    name: str | None = None
    postal_code: str | None = None
    state: str | None = None
    # {"twentyfourseven": bool, "regular_hours": [{"weekday": 1-7, "period_begin": "HH:MM", "period_end": ...}]}
    opening_times: Mapping[str, Any] | None = None
    facilities: Sequence[str] | None = ()
    parking_type: str | None = None
    publish: bool = True


@dataclass(frozen=True, slots=True)
class EvseView:
    """One connector (1.6) or EVSE (2.x) of a charger on a location, as it is now."""

    charge_point_id: str
    connector_id: int
    # The connector on the EVSE a 2.x station last reported (1 for 1.6).
    evse_connector_id: int
    # The OCPP status last reported; None when it never reported one.
    status: str | None
    is_connected: bool
    details: ConnectorDetails
    tariff_ids: tuple[str, ...]
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class LocationView:
    location: OcpiLocation
    evses: tuple[EvseView, ...]
    opening_times: dict[str, Any] | None = None
    facilities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def last_updated(self) -> datetime:
        return max([self.location.last_updated, *(evse.last_updated for evse in self.evses)])


# -- the operator's edits ------------------------------------------------------------------------------------


async def create_location(
    session: AsyncSession, fields: LocationFields, charge_point_ids: Sequence[str], *, now: datetime
) -> OcpiLocation:
    location = OcpiLocation(created_at=now, last_updated=now, **_columns(fields))
    session.add(location)
    await session.flush()
    await _place_chargers(session, location.id, charge_point_ids)
    await session.commit()
    return location


async def update_location(
    session: AsyncSession,
    location: OcpiLocation,
    changes: Mapping[str, Any],
    charge_point_ids: Sequence[str] | None,
    *,
    now: datetime,
) -> None:
    """`changes` name LocationFields; with `charge_point_ids` the location's chargers become exactly those."""
    merged = LocationFields(**{**_fields_of(location), **changes})
    for name, value in _columns(merged).items():
        setattr(location, name, value)
    if charge_point_ids is not None:
        await session.execute(
            delete(OcpiLocationCharger).where(
                OcpiLocationCharger.location_id == location.id,
                OcpiLocationCharger.charge_point_id.not_in(set(charge_point_ids)),
            )
        )
        before = set(await chargers_of(session, location.id))
        await _place_chargers(session, location.id, [cp for cp in charge_point_ids if cp not in before])
    location.last_updated = now
    await session.commit()


async def delete_location(session: AsyncSession, location: OcpiLocation) -> None:
    await session.delete(location)
    await session.commit()


async def get_location(session: AsyncSession, location_id: int) -> OcpiLocation:
    location = await session.get(OcpiLocation, location_id)
    if location is None:
        raise NotFound(f"no OCPI location {location_id}")
    return location


async def all_locations(session: AsyncSession) -> list[OcpiLocation]:
    return list(await session.scalars(select(OcpiLocation).order_by(OcpiLocation.id)))


async def set_connector_details(
    session: AsyncSession, charge_point_id: str, connector_id: int, details: ConnectorDetails, *, now: datetime
) -> int | None:
    """Store a connector's OCPI details; the id of the location it is on (whose last_updated moves), if any."""
    if await session.get(Charger, charge_point_id) is None:
        raise NotFound(f"charger {charge_point_id} not found")
    _check_details(details)
    if details.tariff_ids is not None:
        await _check_tariffs(session, details.tariff_ids)
    row = await session.get(OcpiConnector, (charge_point_id, connector_id))
    if row is None:
        row = OcpiConnector(charge_point_id=charge_point_id, connector_id=connector_id)
        session.add(row)
    values = asdict(details)
    values["tariff_ids"] = None if details.tariff_ids is None else json.dumps(list(details.tariff_ids))
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    location_id = await location_of(session, charge_point_id)
    if location_id is not None:
        await touch(session, location_id, now=now)
    await session.commit()
    return location_id


async def touch(session: AsyncSession, location_id: int, *, now: datetime) -> None:
    """What a party sees of the location changed now (an EVSE's status, a connector's details)."""
    await session.execute(
        update(OcpiLocation)
        .where(OcpiLocation.id == location_id, OcpiLocation.last_updated < now)
        .values(last_updated=now)
    )


async def location_of(session: AsyncSession, charge_point_id: str) -> int | None:
    query = select(OcpiLocationCharger.location_id).where(OcpiLocationCharger.charge_point_id == charge_point_id)
    return await session.scalar(query)


async def chargers_of(session: AsyncSession, location_id: int) -> list[str]:
    query = select(OcpiLocationCharger.charge_point_id).where(OcpiLocationCharger.location_id == location_id)
    return list(await session.scalars(query.order_by(OcpiLocationCharger.charge_point_id)))


# -- what parties see ----------------------------------------------------------------------------------------


async def page_of_locations(
    session: AsyncSession, *, offset: int, limit: int, date_from: datetime | None, date_to: datetime | None
) -> tuple[list[OcpiLocation], int]:
    """Locations with at least one charger (§8.3.1: a GET list holds those with EVSEs) whose last_updated is in
    [date_from, date_to), oldest first; and how many there are in all."""
    conditions: list[ColumnElement[bool]] = [exists().where(OcpiLocationCharger.location_id == OcpiLocation.id)]
    if date_from is not None:
        conditions.append(OcpiLocation.last_updated >= date_from)
    if date_to is not None:
        conditions.append(OcpiLocation.last_updated < date_to)
    total = await session.scalar(select(func.count()).select_from(OcpiLocation).where(*conditions))
    query = select(OcpiLocation).where(*conditions).order_by(OcpiLocation.id).offset(offset).limit(limit)
    return list(await session.scalars(query)), int(total or 0)


async def views_of(session: AsyncSession, locations: Sequence[OcpiLocation], *, now: datetime) -> list[LocationView]:
    """The locations as parties see them, their EVSEs' statuses and tariffs as they are now."""
    if not locations:
        return []
    placed = await session.execute(
        select(OcpiLocationCharger.location_id, OcpiLocationCharger.charge_point_id).where(
            OcpiLocationCharger.location_id.in_([location.id for location in locations])
        )
    )
    by_location: dict[int, list[str]] = {}
    for location_id, charge_point_id in placed:
        by_location.setdefault(location_id, []).append(charge_point_id)
    everyone = [cp for cps in by_location.values() for cp in cps]
    evses = await _evses(session, everyone, now=now)
    return [
        LocationView(
            location=location,
            evses=tuple(evse for cp in sorted(by_location.get(location.id, [])) for evse in evses.get(cp, [])),
            opening_times=json.loads(location.opening_times) if location.opening_times else None,
            facilities=tuple(json.loads(location.facilities)),
        )
        for location in locations
    ]


async def _evses(session: AsyncSession, charge_point_ids: Sequence[str], *, now: datetime) -> dict[str, list[EvseView]]:
    if not charge_point_ids:
        return {}
    chargers = {
        charger.charge_point_id: charger
        for charger in await session.scalars(select(Charger).where(Charger.charge_point_id.in_(charge_point_ids)))
    }
    reported = {
        (row.charge_point_id, row.connector_id): row
        for row in await session.scalars(
            select(Connector).where(Connector.charge_point_id.in_(charge_point_ids), Connector.connector_id > 0)
        )
    }
    details = {
        (row.charge_point_id, row.connector_id): row
        for row in await session.scalars(
            select(OcpiConnector).where(OcpiConnector.charge_point_id.in_(charge_point_ids))
        )
    }
    assignments = list(await session.scalars(select(TariffAssignment)))
    views: dict[str, list[EvseView]] = {}
    for key in sorted(set(reported) | set(details)):
        charger = chargers[key[0]]
        view = _evse(charger, reported.get(key), details.get(key), assignments, key[1], now=now)
        views.setdefault(key[0], []).append(view)
    return views


def _evse(
    charger: Charger,
    reported: Connector | None,
    stored: OcpiConnector | None,
    assignments: Sequence[TariffAssignment],
    connector_id: int,
    *,
    now: datetime,
) -> EvseView:
    details = _details_of(stored)
    if details.tariff_ids is not None:
        tariff_ids = details.tariff_ids
    else:
        place = tariffs.Place(charge_point_id=charger.charge_point_id, connector_id=connector_id, id_tag="")
        in_force = tariffs.assignment_in_force(assignments, place, now)
        tariff_ids = (str(in_force.tariff_id),) if in_force is not None else ()
    moments = [charger.created_at, charger.disconnected_at if not charger.is_connected else None]
    moments += [reported.status_at if reported else None, stored.updated_at if stored else None]
    return EvseView(
        charge_point_id=charger.charge_point_id,
        connector_id=connector_id,
        evse_connector_id=(reported.evse_connector_id if reported else None) or 1,
        status=reported.status if reported else None,
        is_connected=charger.is_connected,
        details=details,
        tariff_ids=tariff_ids,
        last_updated=max(moment for moment in moments if moment is not None),
    )


def _details_of(row: OcpiConnector | None) -> ConnectorDetails:
    if row is None:
        return DEFAULT_DETAILS
    return ConnectorDetails(
        standard=row.standard,
        format=row.format,
        power_type=row.power_type,
        max_voltage=row.max_voltage,
        max_amperage=row.max_amperage,
        max_electric_power=row.max_electric_power,
        tariff_ids=None if row.tariff_ids is None else tuple(json.loads(row.tariff_ids)),
    )


# -- rules ---------------------------------------------------------------------------------------------------


def _columns(fields: LocationFields) -> dict[str, Any]:
    _check_location(fields)
    columns = asdict(fields)
    columns["country"] = fields.country.upper()
    columns["opening_times"] = None if fields.opening_times is None else json.dumps(dict(fields.opening_times))
    columns["facilities"] = json.dumps(sorted(set(fields.facilities or ())))
    return columns


def _fields_of(location: OcpiLocation) -> dict[str, Any]:
    names = LocationFields.__dataclass_fields__
    values = {name: getattr(location, name) for name in names}
    values["opening_times"] = json.loads(location.opening_times) if location.opening_times else None
    values["facilities"] = json.loads(location.facilities)
    return values


def _check_location(fields: LocationFields) -> None:
    if not re.fullmatch(r"[A-Za-z]{3}", fields.country):
        raise InvalidInput("country is an ISO 3166-1 alpha-3 code such as NLD")
    if not -90 <= fields.latitude <= 90 or not -180 <= fields.longitude <= 180:
        raise InvalidInput("latitude is from -90 to 90 and longitude from -180 to 180")
    try:
        ZoneInfo(fields.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time_zone {fields.time_zone!r} is not an IANA zone such as Europe/Amsterdam") from None
    if unknown := sorted(set(fields.facilities or ()) - FACILITIES):
        raise InvalidInput(f"facilities: {', '.join(unknown)} are not OCPI facilities")
    if fields.parking_type is not None and fields.parking_type not in PARKING_TYPES:
        raise InvalidInput(f"parking_type is one of {', '.join(sorted(PARKING_TYPES))}")
    if fields.opening_times is not None:
        _check_hours(fields.opening_times)


def _check_hours(hours: Mapping[str, Any]) -> None:
    """§8.4.14: open around the clock, or at least one period on regular weekdays."""
    regular = hours.get("regular_hours") or []
    if hours.get("twentyfourseven") is True:
        if regular:
            raise InvalidInput("opening_times: regular_hours only when not twentyfourseven")
        return
    if hours.get("twentyfourseven") is not False or not regular:
        raise InvalidInput("opening_times: twentyfourseven true, or false with at least one of regular_hours")
    for period in regular:
        begin, end = period.get("period_begin", ""), period.get("period_end", "")
        if period.get("weekday") not in range(1, 8) or not _TIME_OF_DAY.match(begin) or not _TIME_OF_DAY.match(end):
            raise InvalidInput("opening_times: each regular hour has a weekday 1-7 and HH:MM begin and end")


def _check_details(details: ConnectorDetails) -> None:
    if details.standard not in STANDARDS:
        raise InvalidInput(f"standard {details.standard!r} is not an OCPI ConnectorType (e.g. IEC_62196_T2)")
    if details.format not in FORMATS:
        raise InvalidInput("format is SOCKET or CABLE")
    if details.power_type not in POWER_TYPES:
        raise InvalidInput(f"power_type is one of {', '.join(sorted(POWER_TYPES))}")


async def _check_tariffs(session: AsyncSession, tariff_ids: Iterable[str]) -> None:
    for tariff_id in tariff_ids:
        if not tariff_id.isdigit():
            raise InvalidInput(f"tariff_ids: {tariff_id!r} is not a csms tariff id")
        await tariffs.get_tariff(session, int(tariff_id))


async def _place_chargers(session: AsyncSession, location_id: int, charge_point_ids: Sequence[str]) -> None:
    wanted = set(charge_point_ids)
    if not wanted:
        return
    known = set(await session.scalars(select(Charger.charge_point_id).where(Charger.charge_point_id.in_(wanted))))
    if unknown := sorted(wanted - known):
        raise InvalidInput(f"charge_point_ids: no charger {', '.join(unknown)}")
    taken = await session.execute(
        select(OcpiLocationCharger.charge_point_id, OcpiLocationCharger.location_id).where(
            OcpiLocationCharger.charge_point_id.in_(wanted), OcpiLocationCharger.location_id != location_id
        )
    )
    if clashes := sorted(f"{cp} (location {other})" for cp, other in taken):
        raise Conflict(f"a charger is on one location at most: {', '.join(clashes)}")
    session.add_all(OcpiLocationCharger(charge_point_id=cp, location_id=location_id) for cp in sorted(wanted))
