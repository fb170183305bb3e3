"""OCPI 2.2.1's Location, EVSE, Connector and Tariff objects checked by the spec's field rules (mod_locations §8.3,
§8.4; mod_tariffs §11.3, §11.4), written from the spec's tables and not from csms's code.

Each check returns what breaks the rules, in words; an empty list is an object an eMSP can take. A PATCH body is
checked as a partial object (only the fields it has) that must carry last_updated (§8.2.2.3, §11.2.2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z?$")
_LATITUDE = re.compile(r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
_LONGITUDE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
# eMI3 EVSE ID (§8.3.2, evse_id): <country>*<operator>*E<outlet>, the separators optional.
_EVSE_ID = re.compile(r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

STATUSES = {
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
}
STANDARDS = {
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F",
    "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N",
    "DOMESTIC_O", "GBT_AC", "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
    "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50",
    "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
}  # fmt: skip
FACILITIES = {
    "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE", "MUSEUM",
    "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION", "TRAIN_STATION", "AIRPORT",
    "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
}  # fmt: skip
PARKING_TYPES = {"ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"}
CAPABILITIES = {
    "CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT", "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL", "REMOTE_START_STOP_CAPABLE", "RESERVABLE",
    "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED", "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE",
}  # fmt: skip
COMPONENT_TYPES = {"ENERGY", "FLAT", "PARKING_TIME", "TIME"}
TARIFF_TYPES = {"AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"}

Check = Callable[[Any, str], list[str]]


def _text(limit: int) -> Check:
    return lambda value, where: (
        [] if isinstance(value, str) and len(value) <= limit else [f"{where} {value!r} is not string({limit})"]
    )


def _pattern(expression: re.Pattern[str], what: str) -> Check:
    def check(value: Any, where: str) -> list[str]:
        return [] if isinstance(value, str) and expression.match(value) else [f"{where} {value!r} is not {what}"]

    return check


def _enum(values: set[str], what: str) -> Check:
    return lambda value, where: [] if value in values else [f"{where} {value!r} is not a {what}"]


def _int(value: Any, where: str) -> list[str]:
    return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where} {value!r} is not an int"]


def _number(value: Any, where: str) -> list[str]:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return [] if ok else [f"{where} {value!r} is not a number"]


def _bool(value: Any, where: str) -> list[str]:
    return [] if isinstance(value, bool) else [f"{where} {value!r} is not a boolean"]


def _datetime(value: Any, where: str) -> list[str]:
    ok = isinstance(value, str) and len(value) <= 25 and _DATETIME.match(value)
    return [] if ok else [f"{where} {value!r} is not an OCPI DateTime (§16.2)"]


def _list_of(check: Check, *, at_least: int = 0) -> Check:
    def checked(value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or len(value) < at_least:
            return [f"{where} {value!r} is not a list of at least {at_least}"]
        return [problem for index, item in enumerate(value) for problem in check(item, f"{where}[{index}]")]

    return checked


def _object(fields: dict[str, tuple[bool, Check]]) -> Callable[..., list[str]]:
    """A check of an object with these fields (name: (required, check)); `partial` for a PATCH body."""

    def check(value: Any, where: str, *, partial: bool = False) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where} {value!r} is not an object"]
        problems = [f"{where}.{name} is not a field of this object" for name in value if name not in fields]
        for name, (required, field_check) in fields.items():
            if name not in value:
                if required and not partial:
                    problems.append(f"{where}.{name} is required")
                continue
            if value[name] is None:
                problems.append(f"{where}.{name} is null: a field without a value is left out")
                continue
            problems += field_check(value[name], f"{where}.{name}")
        if partial and "last_updated" not in value:
            problems.append(f"{where}: a PATCH carries last_updated")
        return problems

    return check


_COORDINATES = _object(
    {
        "latitude": (True, _pattern(_LATITUDE, "a latitude of 5 to 7 decimals")),
        "longitude": (True, _pattern(_LONGITUDE, "a longitude of 5 to 7 decimals")),
    }
)
_REGULAR_HOURS = _object(
    {
        "weekday": (True, lambda v, w: [] if v in range(1, 8) else [f"{w} {v!r} is not a weekday 1-7"]),
        "period_begin": (True, _pattern(_TIME, "HH:MM")),
        "period_end": (True, _pattern(_TIME, "HH:MM")),
    }
)


def _hours(value: Any, where: str) -> list[str]:
    problems = _object(
        {
            "twentyfourseven": (True, _bool),
            "regular_hours": (False, _list_of(_REGULAR_HOURS)),
            "exceptional_openings": (False, _list_of(lambda v, w: [])),
            "exceptional_closings": (False, _list_of(lambda v, w: [])),
        }
    )(value, where)
    if isinstance(value, dict) and value.get("twentyfourseven") is False and not value.get("regular_hours"):
        problems.append(f"{where}: not twentyfourseven, so at least one of regular_hours (§8.4.14)")
    if isinstance(value, dict) and value.get("twentyfourseven") is True and value.get("regular_hours"):
        problems.append(f"{where}: regular_hours only when not twentyfourseven (§8.4.14)")
    return problems


check_connector = _object(
    {
        "id": (True, _text(36)),
        "standard": (True, _enum(STANDARDS, "ConnectorType")),
        "format": (True, _enum({"SOCKET", "CABLE"}, "ConnectorFormat")),
        "power_type": (True, _enum({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}, "PowerType")),
        "max_voltage": (True, _int),
        "max_amperage": (True, _int),
        "max_electric_power": (False, _int),
        "tariff_ids": (False, _list_of(_text(36))),
        "terms_and_conditions": (False, _text(255)),
        "last_updated": (True, _datetime),
    }
)
check_evse = _object(
    {
        "uid": (True, _text(36)),
        "evse_id": (False, _pattern(_EVSE_ID, "an eMI3 EVSE id")),
        "status": (True, _enum(STATUSES, "Status")),
        "status_schedule": (False, _list_of(lambda v, w: [])),
        "capabilities": (False, _list_of(_enum(CAPABILITIES, "Capability"))),
        "connectors": (True, _list_of(check_connector, at_least=1)),
        "floor_level": (False, _text(4)),
        "coordinates": (False, _COORDINATES),
        "physical_reference": (False, _text(16)),
        "directions": (False, _list_of(lambda v, w: [])),
        "parking_restrictions": (False, _list_of(lambda v, w: [])),
        "images": (False, _list_of(lambda v, w: [])),
        "last_updated": (True, _datetime),
    }
)
check_location = _object(
    {
        "country_code": (True, _pattern(re.compile(r"^[A-Z]{2}$"), "an ISO 3166 alpha-2 code")),
        "party_id": (True, _pattern(re.compile(r"^[A-Z0-9]{3}$"), "a party id")),
        "id": (True, _text(36)),
        "publish": (True, _bool),
        "publish_allowed_to": (False, _list_of(lambda v, w: [])),
        "name": (False, _text(255)),
        "address": (True, _text(45)),
        "city": (True, _text(45)),
        "postal_code": (False, _text(10)),
        "state": (False, _text(20)),
        "country": (True, _pattern(re.compile(r"^[A-Z]{3}$"), "an ISO 3166 alpha-3 code")),
        "coordinates": (True, _COORDINATES),
        "related_locations": (False, _list_of(lambda v, w: [])),
        "parking_type": (False, _enum(PARKING_TYPES, "ParkingType")),
        "evses": (False, _list_of(check_evse)),
        "directions": (False, _list_of(lambda v, w: [])),
        "operator": (False, lambda v, w: []),
        "suboperator": (False, lambda v, w: []),
        "owner": (False, lambda v, w: []),
        "facilities": (False, _list_of(_enum(FACILITIES, "Facility"))),
        "time_zone": (True, _text(255)),
        "opening_times": (False, _hours),
        "charging_when_closed": (False, _bool),
        "images": (False, _list_of(lambda v, w: [])),
        "energy_mix": (False, lambda v, w: []),
        "last_updated": (True, _datetime),
    }
)
_PRICE_COMPONENT = _object(
    {
        "type": (True, _enum(COMPONENT_TYPES, "TariffDimensionType")),
        "price": (True, _number),
        "vat": (False, _number),
        "step_size": (True, _int),
    }
)
_ELEMENT = _object(
    {
        "price_components": (True, _list_of(_PRICE_COMPONENT, at_least=1)),
        "restrictions": (False, lambda v, w: [] if isinstance(v, dict) else [f"{w} is not TariffRestrictions"]),
    }
)
_DISPLAY_TEXT = _object(
    {"language": (True, _pattern(re.compile(r"^[a-z]{2}$"), "ISO 639-1")), "text": (True, _text(512))}
)
check_tariff = _object(
    {
        "country_code": (True, _pattern(re.compile(r"^[A-Z]{2}$"), "an ISO 3166 alpha-2 code")),
        "party_id": (True, _pattern(re.compile(r"^[A-Z0-9]{3}$"), "a party id")),
        "id": (True, _text(36)),
        "currency": (True, _pattern(re.compile(r"^[A-Z]{3}$"), "an ISO 4217 code")),
        "type": (False, _enum(TARIFF_TYPES, "TariffType")),
        "tariff_alt_text": (False, _list_of(_DISPLAY_TEXT)),
        "tariff_alt_url": (False, _text(255)),
        "min_price": (False, lambda v, w: []),
        "max_price": (False, lambda v, w: []),
        "elements": (True, _list_of(_ELEMENT, at_least=1)),
        "energy_mix": (False, lambda v, w: []),
        "start_date_time": (False, _datetime),
        "end_date_time": (False, _datetime),
        "last_updated": (True, _datetime),
    }
)
