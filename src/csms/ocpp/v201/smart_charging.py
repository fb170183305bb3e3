"""A 2.0.1 station's smart-charging reports (block K) read as csms's values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.ocpp.v201.commands import read_profile
from csms.services.charging_reports import (
    CHARGING_NEEDS,
    CHARGING_SCHEDULE,
    EvReport,
    LimitReport,
    ReportedProfiles,
)
from csms.services.clock import parse_ocpp_timestamp
from csms.services.smart_charging import ChargingNeeds


def reported_profiles(payload: Payload) -> ReportedProfiles:
    """One ReportChargingProfiles part (K09): the profiles of one EVSE from one charging limit source."""
    try:
        profiles = tuple(read_profile(profile) for profile in payload["chargingProfile"])
    except ValueError as error:  # a dateTime the schema's format check lets through
        raise RpcError.because(ErrorKind.FORMAT, f"a reported profile has a bad dateTime: {error}") from None
    return ReportedProfiles(
        request_id=payload["requestId"],
        evse_id=payload["evseId"],
        source=payload["chargingLimitSource"],
        profiles=profiles,
    )


def limit_report(payload: Payload) -> LimitReport:
    """NotifyChargingLimit (K12): a limit from outside csms, with the schedules it imposes when given."""
    limit = payload["chargingLimit"]
    schedules = payload.get("chargingSchedule")
    return LimitReport(
        evse_id=payload.get("evseId"),
        source=limit["chargingLimitSource"],
        is_grid_critical=limit.get("isGridCritical"),
        schedules=[_schedule_fields(schedule) for schedule in schedules] if schedules is not None else None,
    )


def ev_needs(payload: Payload) -> EvReport:
    """NotifyEVChargingNeeds (K15): what the EV asks for over ISO 15118."""
    needs = payload["chargingNeeds"]
    departure = needs.get("departureTime")
    details = {"chargingNeeds": needs, **_present({"maxScheduleTuples": payload.get("maxScheduleTuples")})}
    return EvReport(
        evse_id=payload["evseId"],
        kind=CHARGING_NEEDS,
        energy_transfer=needs["requestedEnergyTransfer"],
        departure_time=_timestamp(departure) if departure else None,
        details=details,
    )


_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


def charging_needs(payload: Payload, departure: datetime | None) -> ChargingNeeds | None:
    """The needs csms can schedule for: AC with its currents, DC with its power; None for another kind of
    transfer or one without its parameters (2.1's bidirectional ones among them)."""
    needs = payload["chargingNeeds"]
    transfer = needs["requestedEnergyTransfer"]
    if transfer in _AC_PHASES and (ac := needs.get("acChargingParameters")) is not None:
        return ChargingNeeds(
            evse_id=payload["evseId"],
            phases=_AC_PHASES[transfer],
            energy_wh=ac.get("energyAmount"),
            departure=departure,
            max_rate=ac["evMaxCurrent"],
            min_rate=ac.get("evMinCurrent", 0),
        )
    if transfer == "DC" and (dc := needs.get("dcChargingParameters")) is not None:
        max_power = dc.get("evMaxPower", dc["evMaxCurrent"] * dc["evMaxVoltage"])
        return ChargingNeeds(
            evse_id=payload["evseId"],
            phases=None,
            energy_wh=dc.get("energyAmount"),
            departure=departure,
            max_rate=max_power,
        )
    return None


def ev_schedule(payload: Payload) -> EvReport:
    """NotifyEVChargingSchedule (K17): the schedule the EV chose, from `timeBase` on."""
    return EvReport(
        evse_id=payload["evseId"],
        kind=CHARGING_SCHEDULE,
        energy_transfer=None,
        departure_time=None,
        details={"timeBase": payload["timeBase"], "chargingSchedule": payload["chargingSchedule"]},
    )


def _schedule_fields(schedule: Payload) -> dict[str, Any]:
    return _present(
        {
            "id": schedule["id"],
            "charging_rate_unit": schedule["chargingRateUnit"],
            "start_schedule": schedule.get("startSchedule"),
            "duration": schedule.get("duration"),
            "min_charging_rate": schedule.get("minChargingRate"),
            "periods": [
                {
                    "start_period": period["startPeriod"],
                    "limit": period["limit"],
                    "number_phases": period.get("numberPhases"),
                }
                for period in schedule["chargingSchedulePeriod"]
            ],
        }
    )


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise RpcError.because(ErrorKind.FORMAT, f"{value!r} is not an RFC 3339 dateTime") from None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
