"""OCPI 2.2.1's Session and CDR objects checked by the spec's field rules (mod_sessions §9.3, §9.4; mod_cdrs §10.4,
§10.4.3 CdrLocation, §10.4.4 CdrToken, §10.4.5 ChargingPeriod, §10.4.2 CdrDimension, §10.4.7 SignedData, §10.4.8
SignedValue; types §16.4 Price), written from the spec's tables and not from csms's code.

Each check returns what breaks the rules, in words; an empty list is an object an eMSP can take. A Session PATCH is
checked as a partial object that must carry last_updated (§9.2.2.3).
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.ocpi_objects import (
    STANDARDS,
    _bool,
    _datetime,
    _enum,
    _int,
    _list_of,
    _number,
    _object,
    _pattern,
    _text,
    check_tariff,
)

_COUNTRY = _pattern(re.compile(r"^[A-Z]{2}$"), "an ISO 3166 alpha-2 code")
_PARTY = _pattern(re.compile(r"^[A-Z0-9]{3}$"), "a party id")
_CURRENCY = _pattern(re.compile(r"^[A-Z]{3}$"), "an ISO 4217 code")
_CI = re.compile(r"^[ -~]*$")
TOKEN_TYPES = {"AD_HOC_USER", "APP_USER", "OTHER", "RFID"}
AUTH_METHODS = {"AUTH_REQUEST", "COMMAND", "WHITELIST"}
SESSION_STATUSES = {"ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"}
DIMENSIONS = {
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER", "MIN_POWER",
    "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
}  # fmt: skip
POWER_TYPES = {"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}


def _ci(limit: int) -> Any:
    def check(value: Any, where: str) -> list[str]:
        ok = isinstance(value, str) and 1 <= len(value) <= limit and _CI.match(value)
        return [] if ok else [f"{where} {value!r} is not CiString({limit})"]

    return check


def _non_negative(value: Any, where: str) -> list[str]:
    problems = _number(value, where)
    return problems or ([] if value >= 0 else [f"{where} {value!r} is negative"])


_PRICE = _object({"excl_vat": (True, _number), "incl_vat": (False, _number)})
_CDR_TOKEN = _object(
    {
        "country_code": (True, _COUNTRY),
        "party_id": (True, _PARTY),
        "uid": (True, _ci(36)),
        "type": (True, _enum(TOKEN_TYPES, "TokenType")),
        "contract_id": (True, _ci(36)),
    }
)
_DIMENSION = _object({"type": (True, _enum(DIMENSIONS, "CdrDimensionType")), "volume": (True, _non_negative)})
_PERIOD = _object(
    {
        "start_date_time": (True, _datetime),
        "dimensions": (True, _list_of(_DIMENSION, at_least=1)),
        "tariff_id": (False, _ci(36)),
    }
)
_COORDINATES = _object(
    {
        "latitude": (True, _pattern(re.compile(r"^-?[0-9]{1,2}\.[0-9]{5,7}$"), "a latitude")),
        "longitude": (True, _pattern(re.compile(r"^-?[0-9]{1,3}\.[0-9]{5,7}$"), "a longitude")),
    }
)
_CDR_LOCATION = _object(
    {
        "id": (True, _ci(36)),
        "name": (False, _text(255)),
        "address": (True, _text(45)),
        "city": (True, _text(45)),
        "postal_code": (False, _text(10)),
        "state": (False, _text(20)),
        "country": (True, _pattern(re.compile(r"^[A-Z]{3}$"), "an ISO 3166 alpha-3 code")),
        "coordinates": (True, _COORDINATES),
        "evse_uid": (True, _ci(36)),
        "evse_id": (True, _ci(48)),
        "connector_id": (True, _ci(36)),
        "connector_standard": (True, _enum(STANDARDS, "ConnectorType")),
        "connector_format": (True, _enum({"SOCKET", "CABLE"}, "ConnectorFormat")),
        "connector_power_type": (True, _enum(POWER_TYPES, "PowerType")),
    }
)
_SIGNED_VALUE = _object(
    {"nature": (True, _ci(32)), "plain_data": (True, _text(512)), "signed_data": (True, _text(5000))}
)
_SIGNED_DATA = _object(
    {
        "encoding_method": (True, _ci(36)),
        "encoding_method_version": (False, _int),
        "public_key": (False, _text(512)),
        "signed_values": (True, _list_of(_SIGNED_VALUE, at_least=1)),
        "url": (False, _text(512)),
    }
)
check_session = _object(
    {
        "country_code": (True, _COUNTRY),
        "party_id": (True, _PARTY),
        "id": (True, _ci(36)),
        "start_date_time": (True, _datetime),
        "end_date_time": (False, _datetime),
        "kwh": (True, _non_negative),
        "cdr_token": (True, _CDR_TOKEN),
        "auth_method": (True, _enum(AUTH_METHODS, "AuthMethod")),
        "authorization_reference": (False, _ci(36)),
        "location_id": (True, _ci(36)),
        "evse_uid": (True, _ci(36)),
        "connector_id": (True, _ci(36)),
        "meter_id": (False, _text(255)),
        "currency": (True, _CURRENCY),
        "charging_periods": (False, _list_of(_PERIOD)),
        "total_cost": (False, _PRICE),
        "status": (True, _enum(SESSION_STATUSES, "SessionStatus")),
        "last_updated": (True, _datetime),
    }
)
check_cdr = _object(
    {
        "country_code": (True, _COUNTRY),
        "party_id": (True, _PARTY),
        "id": (True, _ci(39)),
        "start_date_time": (True, _datetime),
        "end_date_time": (True, _datetime),
        "session_id": (False, _ci(36)),
        "cdr_token": (True, _CDR_TOKEN),
        "auth_method": (True, _enum(AUTH_METHODS, "AuthMethod")),
        "authorization_reference": (False, _ci(36)),
        "cdr_location": (True, _CDR_LOCATION),
        "meter_id": (False, _text(255)),
        "currency": (True, _CURRENCY),
        "tariffs": (False, _list_of(lambda value, where: check_tariff(value, where))),
        "charging_periods": (True, _list_of(_PERIOD, at_least=1)),
        "signed_data": (False, _SIGNED_DATA),
        "total_cost": (True, _PRICE),
        "total_fixed_cost": (False, _PRICE),
        "total_energy": (True, _non_negative),
        "total_energy_cost": (False, _PRICE),
        "total_time": (True, _non_negative),
        "total_time_cost": (False, _PRICE),
        "total_parking_time": (False, _non_negative),
        "total_parking_cost": (False, _PRICE),
        "total_reservation_cost": (False, _PRICE),
        "remark": (False, _text(255)),
        "invoice_reference_id": (False, _ci(39)),
        "credit": (False, _bool),
        "credit_reference_id": (False, _ci(39)),
        "home_charging_compensation": (False, _bool),
        "last_updated": (True, _datetime),
    }
)
