"""What a charging session costs: pure functions over its meter readings, its activity and its tariffs.

Every amount is a `Decimal`. Nothing is rounded until the end: the components (energy, charging time,
idle time, session fee) are summed at full precision over every slice of the session, then each is
rounded to cents with ROUND_HALF_UP; `net` is the sum of the rounded components, `tax` is the
full-precision tax rounded to cents the same way, and `total` is `net + tax`, so a breakdown
always adds up to its total.

A session is cut into slices at every tariff change; each slice is priced by the tariff in force
when it begins. Minutes are exact (90 seconds is 1.5 minutes), never rounded up to whole minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, Protocol

CENT = Decimal("0.01")
SECONDS_PER_MINUTE = Decimal(60)
WH_PER_KWH = Decimal(1000)
# Below this the car is taken as not drawing power (meters report a few watts of noise).
IDLE_POWER_W = Decimal(50)
# Connector states in which the car holds the connector without charging (OCPP 1.6 §7.7).
IDLE_STATUSES = frozenset({"SuspendedEV", "Finishing"})
ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


class CostingError(ValueError):
    """Inputs that give no meaningful cost, such as tariffs of different currencies in one session."""


@dataclass(frozen=True, slots=True)
class Prices:
    """A tariff as costing sees it: prices net of tax, and the tax rate as a fraction (0.2 is 20 %)."""

    tariff_id: int | None
    currency: str
    per_kwh: Decimal
    per_charging_minute: Decimal
    per_idle_minute: Decimal
    session_fee: Decimal
    tax_rate: Decimal


@dataclass(frozen=True, slots=True)
class TariffPeriod:
    """`prices` apply from `starts` (None: always before) until `ends` (None: from then on)."""

    prices: Prices
    starts: datetime | None = None
    ends: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return (self.starts is None or self.starts <= moment) and (self.ends is None or moment < self.ends)


@dataclass(frozen=True, slots=True)
class Usage:
    """What happened in a session between `start` and `end` (its stop, or now while it runs).

    `readings` are energy register values in Wh (include the stop reading when there is one);
    `activity` says, from a moment on, whether the car is idle (True) or charging (False).
    """

    start: datetime
    end: datetime
    meter_start_wh: int
    readings: Mapping[datetime, int]
    activity: Mapping[datetime, bool]


@dataclass(frozen=True, slots=True)
class CostSlice:
    starts: datetime
    ends: datetime
    tariff_id: int | None
    energy_wh: Decimal
    charging_minutes: Decimal
    idle_minutes: Decimal


@dataclass(frozen=True, slots=True)
class Cost:
    currency: str
    energy: Decimal
    charging_time: Decimal
    idle_time: Decimal
    session_fee: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal
    slices: tuple[CostSlice, ...]

    def breakdown(self) -> dict[str, Any]:
        """JSON-safe: amounts as decimal strings, never floats."""
        amounts = ("energy", "charging_time", "idle_time", "session_fee", "net", "tax", "total")
        return {
            "currency": self.currency,
            **{name: str(getattr(self, name)) for name in amounts},
            "slices": [_slice_out(piece) for piece in self.slices],
        }


class Sampled(Protocol):
    """One sampled value, as a charger sent it (a MeterValues entry or a stored meter value row)."""

    @property
    def value(self) -> str: ...
    @property
    def measurand(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def phase(self) -> str | None: ...
    @property
    def format(self) -> str | None: ...


def reading(sampled: Sampled) -> Decimal | None:
    """A total (not a phase's) plain value in Wh or W, kWh and kW scaled; None for a signed value or one no
    meter reads (not a number, NaN, infinite)."""
    if sampled.phase is not None or sampled.format == "SignedData":
        return None
    try:
        amount = Decimal(sampled.value)
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return amount * 1000 if sampled.unit in ("kWh", "kW") else amount


def energy_register_wh(sampled: Sampled) -> int | None:
    """An energy register reading in Wh; None as for `reading`, or beyond the 64-bit Wh csms counts in
    (such a value is kept as sent, never counted)."""
    amount = reading(sampled)
    if amount is None:
        return None
    wh = int(amount)
    return wh if wh in _WH_RANGE else None


_WH_RANGE = range(-(2**63), 2**63)  # the BigInteger columns a reading goes into


@dataclass(slots=True)
class UsageLog:
    """Collects a session's readings and activity as they arrive, to price it at any moment."""

    start: datetime
    meter_start_wh: int
    readings: dict[datetime, int]
    activity: dict[datetime, bool]

    @classmethod
    def starting(cls, start: datetime, meter_start_wh: int) -> UsageLog:
        return cls(start=start, meter_start_wh=meter_start_wh, readings={}, activity={})

    def add_sampled(self, at: datetime, sampled: Sampled) -> None:
        """Energy register readings (Wh) and total power (idle below IDLE_POWER_W); other values are ignored."""
        if sampled.measurand == ENERGY_REGISTER:
            wh = energy_register_wh(sampled)
            if wh is not None:
                self.readings[at] = wh
        elif sampled.measurand == POWER:
            watts = reading(sampled)
            if watts is not None:
                self.activity[at] = watts < IDLE_POWER_W

    def add_status(self, at: datetime, status: str) -> None:
        self.activity[at] = status in IDLE_STATUSES

    def usage(self, *, end: datetime, meter_stop_wh: int | None = None) -> Usage:
        readings = dict(self.readings) if meter_stop_wh is None else {**self.readings, end: meter_stop_wh}
        return Usage(
            start=self.start,
            end=end,
            meter_start_wh=self.meter_start_wh,
            readings=readings,
            activity=dict(self.activity),
        )


def round_to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def session_cost(usage: Usage, periods: Sequence[TariffPeriod]) -> Cost | None:
    """The cost of `usage` under `periods`; None when no tariff covers any part of it.

    Parts of the session that no period covers cost nothing. The session fee is that of the first
    tariff in force during the session.
    """
    priced = [(piece, prices) for piece in _slices(usage, periods) if (prices := _prices_at(periods, piece.starts))]
    if not priced:
        return None
    currencies = {prices.currency for _, prices in priced}
    if len(currencies) > 1:
        raise CostingError(f"one session's tariffs must share a currency, not {sorted(currencies)}")
    return _total(priced)


def _slices(usage: Usage, periods: Sequence[TariffPeriod]) -> list[CostSlice]:
    changes = {moment for period in periods for moment in (period.starts, period.ends) if moment is not None}
    cuts = sorted({usage.start, usage.end} | {moment for moment in changes if usage.start < moment < usage.end})
    return [_slice(usage, starts, ends) for starts, ends in pairwise(cuts)]


def _slice(usage: Usage, starts: datetime, ends: datetime) -> CostSlice:
    idle_seconds = _idle_seconds(usage.activity, starts, ends)
    seconds = Decimal(str((ends - starts).total_seconds()))
    return CostSlice(
        starts=starts,
        ends=ends,
        tariff_id=None,
        # A meter that went backwards books no negative energy (nor a negative cost).
        energy_wh=max(Decimal(0), _register_at(usage, ends) - _register_at(usage, starts)),
        charging_minutes=(seconds - idle_seconds) / SECONDS_PER_MINUTE,
        idle_minutes=idle_seconds / SECONDS_PER_MINUTE,
    )


def _prices_at(periods: Sequence[TariffPeriod], moment: datetime) -> Prices | None:
    return next((period.prices for period in periods if period.covers(moment)), None)


def _register_at(usage: Usage, moment: datetime) -> Decimal:
    """The energy register at `moment`: linear between readings, the last reading after them."""
    points = sorted({usage.start: usage.meter_start_wh, **dict(usage.readings)}.items())
    before = (usage.start, usage.meter_start_wh)
    for at, wh in points:
        if at == moment:
            return Decimal(wh)
        if at > moment:
            share = Decimal(str((moment - before[0]).total_seconds())) / Decimal(str((at - before[0]).total_seconds()))
            return Decimal(before[1]) + (wh - before[1]) * share
        before = (at, wh)
    return Decimal(before[1])


def _idle_seconds(activity: Mapping[datetime, bool], starts: datetime, ends: datetime) -> Decimal:
    """Seconds of [starts, ends) in which the latest activity said idle (charging before any said)."""
    changes = sorted(activity.items())
    is_idle = next((idle for at, idle in reversed(changes) if at <= starts), False)
    idle = Decimal(0)
    since = starts
    for at, now_idle in changes:
        if starts < at < ends:
            idle += Decimal(str((at - since).total_seconds())) if is_idle else 0
            since, is_idle = at, now_idle
    return idle + (Decimal(str((ends - since).total_seconds())) if is_idle else 0)


def _total(priced: list[tuple[CostSlice, Prices]]) -> Cost:
    energy = sum((piece.energy_wh / WH_PER_KWH * prices.per_kwh for piece, prices in priced), Decimal(0))
    charging = sum((piece.charging_minutes * prices.per_charging_minute for piece, prices in priced), Decimal(0))
    idle = sum((piece.idle_minutes * prices.per_idle_minute for piece, prices in priced), Decimal(0))
    first = priced[0][1]
    tax = first.session_fee * first.tax_rate + sum(
        (_slice_net(piece, prices) * prices.tax_rate for piece, prices in priced), Decimal(0)
    )
    components = [round_to_cents(amount) for amount in (energy, charging, idle, first.session_fee)]
    net = sum(components, Decimal(0))
    return Cost(
        currency=first.currency,
        energy=components[0],
        charging_time=components[1],
        idle_time=components[2],
        session_fee=components[3],
        net=net,
        tax=round_to_cents(tax),
        total=net + round_to_cents(tax),
        slices=tuple(replace(piece, tariff_id=prices.tariff_id) for piece, prices in priced),
    )


def _slice_net(piece: CostSlice, prices: Prices) -> Decimal:
    return (
        piece.energy_wh / WH_PER_KWH * prices.per_kwh
        + piece.charging_minutes * prices.per_charging_minute
        + piece.idle_minutes * prices.per_idle_minute
    )


def _slice_out(piece: CostSlice) -> dict[str, Any]:
    return {
        "from": piece.starts.isoformat(),
        "to": piece.ends.isoformat(),
        "tariff_id": piece.tariff_id,
        "energy_wh": str(piece.energy_wh.quantize(Decimal("0.001"))),
        "charging_minutes": str(piece.charging_minutes.quantize(Decimal("0.001"))),
        "idle_minutes": str(piece.idle_minutes.quantize(Decimal("0.001"))),
    }
