"""The charging profiles a simulated charger holds, and the current they allow on each connector.

One model for both versions: `read_profile` and `read_clear` take a SetChargingProfile or
ClearChargingProfile payload of 1.6 (csChargingProfiles, connectorId, ChargePointMaxProfile) or 2.0.1/2.1
(chargingProfile, evseId, ChargingStationMaxProfile, a list of chargingSchedule), in the wire's camelCase
or the `ocpp` package's snake_case. Connector 0 is the whole charger (2.x: EVSE 0, the station).

Stacking, as OCPP 1.6 §3.13.2 and 2.0.1 K (SmartCharging) define it: within a purpose the profile of the
highest stackLevel whose schedule covers the moment wins (a lower one fills the gaps); a TxProfile for the
running transaction overrides the TxDefaultProfile; the ChargingStationMaxProfile caps both. Limits are
kept in A per phase; a limit in W is converted with 230 V times the period's numberPhases (default 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

VOLTS = 230.0
DEFAULT_PHASES = 3
STATION_MAX = "ChargingStationMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
_PURPOSES = {"ChargePointMaxProfile": STATION_MAX, STATION_MAX: STATION_MAX, TX_DEFAULT: TX_DEFAULT, TX: TX}
_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}
_CAPITAL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True)
class Period:
    start_period: int  # seconds from the schedule's start
    limit_a: float


@dataclass(frozen=True)
class Profile:
    """A charging profile on one connector, its limits in A."""

    profile_id: int
    connector_id: int
    stack_level: int
    purpose: str  # STATION_MAX, TX_DEFAULT or TX
    kind: str  # Absolute, Relative or Recurring
    periods: tuple[Period, ...]
    start_schedule: datetime | None = None
    duration: int | None = None  # seconds; None: open-ended
    recurrency: str | None = None  # Daily or Weekly, for a Recurring profile
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # a TxProfile's transaction (1.6's number as text)
    set_at: datetime | None = None  # when the charger accepted it: a Relative profile without a transaction starts here

    def is_valid_at(self, now: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (self.valid_to is None or now < self.valid_to)

    def schedule_start(self, now: datetime, transaction_start: datetime | None) -> datetime | None:
        """When the schedule in force at `now` began: None before an Absolute or Recurring one starts."""
        if self.kind == "Relative" or self.start_schedule is None:
            return transaction_start or self.set_at or now
        if now < self.start_schedule:
            return None
        if self.kind == "Recurring" and self.recurrency in _RECURRENCE:
            every = _RECURRENCE[self.recurrency]
            return self.start_schedule + every * ((now - self.start_schedule) // every)
        return self.start_schedule

    def limit_at(self, now: datetime, transaction_start: datetime | None = None) -> float | None:
        """The limit this profile sets at `now`; None when it sets none (not valid, before or after its schedule)."""
        start = self.schedule_start(now, transaction_start) if self.is_valid_at(now) else None
        if start is None:
            return None
        elapsed = (now - start).total_seconds()
        if elapsed < 0 or (self.duration is not None and elapsed >= self.duration):
            return None
        limit = None
        for period in self.periods:
            if period.start_period <= elapsed:
                limit = period.limit_a
        return limit


@dataclass(frozen=True)
class ClearCriteria:
    """What a ClearChargingProfile names: one profile by id, or every profile matching the rest (None: any)."""

    profile_id: int | None = None
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None

    def matches(self, profile: Profile) -> bool:
        if self.profile_id is not None:
            return profile.profile_id == self.profile_id
        return (
            (self.connector_id is None or profile.connector_id == self.connector_id)
            and (self.purpose is None or profile.purpose == self.purpose)
            and (self.stack_level is None or profile.stack_level == self.stack_level)
        )


@dataclass
class _Transaction:
    transaction_id: str
    started_at: datetime


@dataclass
class ChargingProfiles:
    """The profiles a charger accepted and the transactions it runs, per connector."""

    profiles: list[Profile] = field(default_factory=list)
    _transactions: dict[int, _Transaction] = field(default_factory=dict)

    def set(self, profile: Profile) -> None:
        """Keep `profile`; it replaces one of the same id, or of the same connector, purpose and stackLevel
        (1.6 §5.16.2)."""
        self.profiles = [
            held
            for held in self.profiles
            if held.profile_id != profile.profile_id
            and (held.connector_id, held.purpose, held.stack_level)
            != (profile.connector_id, profile.purpose, profile.stack_level)
        ]
        self.profiles.append(profile)

    def clear(self, criteria: ClearCriteria) -> int:
        """Remove the profiles `criteria` names; how many there were."""
        kept = [profile for profile in self.profiles if not criteria.matches(profile)]
        removed = len(self.profiles) - len(kept)
        self.profiles = kept
        return removed

    def transaction_started(self, connector_id: int, transaction_id: str, at: datetime) -> None:
        self._transactions[connector_id] = _Transaction(transaction_id, at)

    def transaction_ended(self, connector_id: int) -> None:
        """The connector's transaction is over, and with it its TxProfiles."""
        self._transactions.pop(connector_id, None)
        self.profiles = [p for p in self.profiles if not (p.purpose == TX and p.connector_id == connector_id)]

    def connector_of(self, transaction_id: str) -> int | None:
        for connector_id, transaction in self._transactions.items():
            if transaction.transaction_id == transaction_id:
                return connector_id
        return None

    def transaction_on(self, connector_id: int) -> str | None:
        transaction = self._transactions.get(connector_id)
        return transaction.transaction_id if transaction else None

    def holds_any_for(self, connector_id: int) -> bool:
        return any(profile.connector_id in (0, connector_id) for profile in self.profiles)

    def limit_a(self, connector_id: int, now: datetime, transaction_id: str | None = None) -> float | None:
        """The limit in force on the connector at `now`, in A per phase; None: no profile limits it.

        `transaction_id` is the transaction running there (default: the one the charger started there)."""
        running = self._transactions.get(connector_id)
        if transaction_id is None and running is not None:
            transaction_id = running.transaction_id
        started = running.started_at if running and running.transaction_id == transaction_id else None
        tx_limit = None
        if transaction_id is not None:
            tx_limit = _winner(self._tx_profiles(connector_id, transaction_id), now, started)
        if tx_limit is None:
            tx_limit = _winner(self._of(TX_DEFAULT, connector_id), now, started)
        cap = _winner(self._of(STATION_MAX, connector_id), now, None)  # a Relative one runs from when it was set
        limits = [limit for limit in (tx_limit, cap) if limit is not None]
        return min(limits) if limits else None

    def composite_schedule(
        self, connector_id: int, start: datetime, duration: int, *, unlimited_a: float
    ) -> list[Period]:
        """The limits in force on the connector from `start` for `duration` seconds (1.6 GetCompositeSchedule,
        2.0.1 K08), each period starting where the limit changes; `unlimited_a` where no profile limits it."""
        end = start + timedelta(seconds=duration)
        running = self._transactions.get(connector_id)
        started = running.started_at if running else None
        moments = {start}
        for profile in self.profiles:
            moments.update(_changes(profile, start, end, started if profile.purpose != STATION_MAX else None))
        periods: list[Period] = []
        for moment in sorted(moments):
            limit = self.limit_a(connector_id, moment)
            limit = unlimited_a if limit is None else min(limit, unlimited_a)
            if not periods or periods[-1].limit_a != limit:
                periods.append(Period(int((moment - start).total_seconds()), limit))
        return periods

    def _tx_profiles(self, connector_id: int, transaction_id: str) -> list[Profile]:
        return [
            p
            for p in self.profiles
            if p.purpose == TX and p.connector_id == connector_id and p.transaction_id in (None, transaction_id)
        ]

    def _of(self, purpose: str, connector_id: int) -> list[Profile]:
        return [p for p in self.profiles if p.purpose == purpose and p.connector_id in (0, connector_id)]


def _winner(profiles: Iterable[Profile], now: datetime, transaction_start: datetime | None) -> float | None:
    """The limit of the highest stackLevel that sets one at `now`; at equal levels a connector's own profile
    wins over the whole charger's."""
    for profile in sorted(profiles, key=lambda p: (p.stack_level, p.connector_id != 0), reverse=True):
        limit = profile.limit_at(now, transaction_start)
        if limit is not None:
            return limit
    return None


def _changes(
    profile: Profile, start: datetime, end: datetime, transaction_start: datetime | None
) -> Iterator[datetime]:
    """The moments in [start, end) at which `profile`'s limit may change."""
    bounds = [profile.valid_from, profile.valid_to]
    for schedule_start in _schedule_starts(profile, start, end, transaction_start):
        bounds += [schedule_start + timedelta(seconds=period.start_period) for period in profile.periods]
        if profile.duration is not None:
            bounds.append(schedule_start + timedelta(seconds=profile.duration))
    return (moment for moment in bounds if moment is not None and start <= moment < end)


def _schedule_starts(
    profile: Profile, start: datetime, end: datetime, transaction_start: datetime | None
) -> Iterator[datetime]:
    first = profile.schedule_start(start, transaction_start) or profile.start_schedule
    if first is None:
        return
    every = _RECURRENCE.get(profile.recurrency or "") if profile.kind == "Recurring" else None
    yield first
    while every is not None and (first := first + every) < end:
        yield first


# -- the edge: either version's payload, in either spelling --------------------------------


def read_profile(payload: dict[str, Any], *, now: datetime) -> Profile:
    """The profile of a SetChargingProfile payload (1.6 or 2.x); ValueError for one this model cannot hold."""
    fields = _snake(payload)
    if "cs_charging_profiles" in fields:
        wire, connector_id = fields["cs_charging_profiles"], fields["connector_id"]
        profile_id, schedule = wire["charging_profile_id"], wire["charging_schedule"]
    else:
        wire, connector_id = fields["charging_profile"], fields["evse_id"]
        profile_id, schedule = wire["id"], wire["charging_schedule"][0]
    purpose = _PURPOSES.get(wire["charging_profile_purpose"])
    if purpose is None:
        raise ValueError(f"a simulated charger holds no {wire['charging_profile_purpose']}")
    unit = schedule["charging_rate_unit"]
    transaction_id = wire.get("transaction_id")
    return Profile(
        profile_id=profile_id,
        connector_id=connector_id,
        stack_level=wire["stack_level"],
        purpose=purpose,
        kind=wire["charging_profile_kind"],
        periods=tuple(_period(period, unit) for period in schedule["charging_schedule_period"]),
        start_schedule=_time(schedule.get("start_schedule")),
        duration=schedule.get("duration"),
        recurrency=wire.get("recurrency_kind"),
        valid_from=_time(wire.get("valid_from")),
        valid_to=_time(wire.get("valid_to")),
        transaction_id=str(transaction_id) if transaction_id is not None else None,
        set_at=now,
    )


def read_clear(payload: dict[str, Any]) -> ClearCriteria:
    """The criteria of a ClearChargingProfile payload (1.6 or 2.x)."""
    fields = _snake(payload)
    if "charging_profile_id" in fields or "charging_profile_criteria" in fields:
        criteria = fields.get("charging_profile_criteria") or {}
        connector_id, profile_id = criteria.get("evse_id"), fields.get("charging_profile_id")
    else:
        criteria, connector_id, profile_id = fields, fields.get("connector_id"), fields.get("id")
    purpose = criteria.get("charging_profile_purpose")
    return ClearCriteria(
        profile_id=profile_id,
        connector_id=connector_id,
        purpose=_PURPOSES.get(purpose, purpose) if purpose is not None else None,
        stack_level=criteria.get("stack_level"),
    )


def in_unit(limit_a: float, unit: str) -> float:
    """A limit in A per phase in `unit` (A, or W on three phases), as a composite schedule reports it."""
    return round(limit_a * VOLTS * DEFAULT_PHASES) if unit == "W" else round(limit_a, 1)


def amps(limit: float, unit: str, number_phases: int | None = None) -> float:
    """A limit in `unit` (A or W) as A per phase."""
    return limit / (VOLTS * (number_phases or DEFAULT_PHASES)) if unit == "W" else float(limit)


def _period(period: dict[str, Any], unit: str) -> Period:
    return Period(period["start_period"], amps(period["limit"], unit, period.get("number_phases")))


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {_CAPITAL.sub("_", key).lower(): _snake(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snake(item) for item in value]
    return value


__all__ = [
    "DEFAULT_PHASES",
    "STATION_MAX",
    "TX",
    "TX_DEFAULT",
    "VOLTS",
    "ChargingProfiles",
    "ClearCriteria",
    "Period",
    "Profile",
    "amps",
    "in_unit",
    "read_clear",
    "read_profile",
]
