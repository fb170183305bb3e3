"""Bodies of the smart-charging API: charging profiles and schedules in csms's words, for any OCPP version."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from csms.domain.commands import (
    EXTERNAL_CONSTRAINTS_PROFILE,
    EXTERNAL_CONSTRAINTS_REFUSAL,
    ChargingProfileValue,
    SchedulePeriod,
    SetChargingProfile,
)

_INT32 = 2**31 - 1
Purpose = Literal["TxDefaultProfile", "TxProfile", "ChargingStationMaxProfile"]
Kind = Literal["Absolute", "Recurring", "Relative"]
RateUnit = Literal["A", "W"]


class SchedulePeriodBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_period: int = Field(ge=0, le=_INT32, description="Seconds from the schedule's start", examples=[0])
    limit: float = Field(ge=0, le=1_000_000, description="At most this, in the profile's unit", examples=[16])
    number_phases: int | None = Field(default=None, ge=1, le=3, description="Default: 3")


class ChargingProfileBody(BaseModel):
    """A profile to put on a connector (1.6) or EVSE (2.0.1); 0 is the whole charger."""

    model_config = ConfigDict(extra="forbid")

    connector_id: int = Field(ge=0, le=_INT32, description="1.6 connectorId, 2.0.1 evseId; 0: the charger")
    charging_profile_id: int = Field(ge=1, le=_INT32, description="The charger's id of it; the same id replaces it")
    stack_level: int = Field(ge=0, le=_INT32)
    purpose: Purpose = Field(description="ChargingStationMaxProfile is 1.6's ChargePointMaxProfile")
    kind: Kind = "Relative"
    recurrency: Literal["Daily", "Weekly"] | None = Field(default=None, description="For a Recurring profile")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: int | None = Field(default=None, ge=1, le=_INT32, description="A TxProfile's transaction")
    charging_rate_unit: RateUnit = Field(examples=["A"])
    periods: list[SchedulePeriodBody] = Field(min_length=1, max_length=1024)
    duration: int | None = Field(default=None, ge=0, le=_INT32, description="Seconds; default: open-ended")
    start_schedule: AwareDatetime | None = Field(default=None, description="For an Absolute or Recurring profile")
    min_charging_rate: float | None = Field(default=None, ge=0, le=1_000_000)

    @field_validator("purpose", mode="before")
    @classmethod
    def _not_external(cls, purpose: Any) -> Any:
        if purpose == EXTERNAL_CONSTRAINTS_PROFILE:
            raise ValueError(EXTERNAL_CONSTRAINTS_REFUSAL)
        return purpose

    @model_validator(mode="after")
    def _consistent(self) -> ChargingProfileBody:
        starts = [period.start_period for period in self.periods]
        if starts[0] != 0 or any(later <= earlier for earlier, later in pairwise(starts)):
            raise ValueError("periods start at start_period 0 and their start_periods increase")
        if (self.kind == "Recurring") != (self.recurrency is not None):
            raise ValueError("a Recurring profile, and only one, has a recurrency")
        if self.kind == "Relative" and self.start_schedule is not None:
            raise ValueError("a Relative profile starts with its transaction: no start_schedule")
        if self.kind != "Relative" and self.start_schedule is None:
            raise ValueError(f"an {self.kind} profile has a start_schedule")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to comes after valid_from")
        return self

    def to_command(self) -> SetChargingProfile:
        periods = tuple(SchedulePeriod(p.start_period, p.limit, p.number_phases) for p in self.periods)
        value = ChargingProfileValue(
            profile_id=self.charging_profile_id,
            stack_level=self.stack_level,
            purpose=self.purpose,
            kind=self.kind,
            charging_rate_unit=self.charging_rate_unit,
            periods=periods,
            recurrency=self.recurrency,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            transaction_id=self.transaction_id,
            duration=self.duration,
            start_schedule=self.start_schedule,
            min_charging_rate=self.min_charging_rate,
        )
        return SetChargingProfile(self.connector_id, value)


class SchedulePeriodOut(BaseModel):
    start_period: int
    limit: float
    number_phases: int | None


class ChargingProfileOut(BaseModel):
    """A profile the charger accepted and holds (or, for a reported one, listed)."""

    connector_id: int = Field(description="1.6 connectorId, 2.0.1 evseId; 0: the whole charger")
    charging_profile_id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    transaction_id: int | None = Field(description="csms's id of a TxProfile's transaction, when known")
    transaction_key: str | None = Field(description="A 2.x station's transactionId of it")
    charging_rate_unit: str
    periods: list[SchedulePeriodOut]
    duration: int | None
    start_schedule: datetime | None
    min_charging_rate: float | None
    created_at: datetime

    @classmethod
    def of(cls, connector_id: int, value: ChargingProfileValue, created_at: datetime) -> ChargingProfileOut:
        return cls(
            connector_id=connector_id,
            charging_profile_id=value.profile_id,
            stack_level=value.stack_level,
            purpose=value.purpose,
            kind=value.kind,
            recurrency=value.recurrency,
            valid_from=value.valid_from,
            valid_to=value.valid_to,
            transaction_id=value.transaction_id,
            transaction_key=value.transaction_key,
            charging_rate_unit=value.charging_rate_unit,
            periods=[SchedulePeriodOut.model_validate(period, from_attributes=True) for period in value.periods],
            duration=value.duration,
            start_schedule=value.start_schedule,
            min_charging_rate=value.min_charging_rate,
            created_at=created_at,
        )


class CompositeScheduleOut(BaseModel):
    connector_id: int
    schedule_start: datetime
    duration: int | None
    charging_rate_unit: str
    periods: list[SchedulePeriodOut]


class CompositeScheduleAnswerOut(BaseModel):
    status: str = Field(description="The charger's answer: Accepted or Rejected")
    schedule: CompositeScheduleOut | None = Field(description="None when the charger gave none")


class ReportedChargingProfileOut(ChargingProfileOut):
    """A profile a 2.0.1 station listed in ReportChargingProfiles."""

    request_id: int = Field(description="The GetChargingProfiles requestId it answered")
    source: str = Field(description="Who set it: CSO (csms or the operator), EMS, SO or Other")


class ScheduleOut(BaseModel):
    id: int
    charging_rate_unit: str
    start_schedule: str | None = None
    duration: int | None = None
    min_charging_rate: float | None = None
    periods: list[SchedulePeriodOut]


class ChargingLimitOut(BaseModel):
    """An external limit a 2.0.1 station reported (NotifyChargingLimit); cleared_at once it said so."""

    evse_id: int | None = Field(description="None: the whole station")
    source: str = Field(description="EMS, SO, CSO or Other")
    is_grid_critical: bool | None
    schedules: list[ScheduleOut] | None
    reported_at: datetime
    cleared_at: datetime | None


class EvChargingReportOut(BaseModel):
    """What a 2.0.1 station told of the EV on an EVSE: its ChargingNeeds or the ChargingSchedule it chose."""

    evse_id: int
    kind: str = Field(description="ChargingNeeds (NotifyEVChargingNeeds) or ChargingSchedule")
    energy_transfer: str | None = Field(description="The requested energy transfer mode, e.g. AC_three_phase")
    departure_time: datetime | None
    details: dict[str, Any] = Field(description="As the station sent it, camelCase")
    received_at: datetime
