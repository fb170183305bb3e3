"""Cost of a session, checked against figures worked out by hand (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from csms.services.costing import CostingError, Prices, TariffPeriod, Usage, round_to_cents, session_cost

TEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return TEN + timedelta(minutes=minutes)


def prices(
    tariff_id: int = 1,
    *,
    per_kwh: str = "0",
    per_charging_minute: str = "0",
    per_idle_minute: str = "0",
    session_fee: str = "0",
    tax_rate: str = "0",
    currency: str = "EUR",
) -> Prices:
    return Prices(
        tariff_id=tariff_id,
        currency=currency,
        per_kwh=Decimal(per_kwh),
        per_charging_minute=Decimal(per_charging_minute),
        per_idle_minute=Decimal(per_idle_minute),
        session_fee=Decimal(session_fee),
        tax_rate=Decimal(tax_rate),
    )


def usage(minutes: float, readings: dict[float, int], idle_from: float | None = None) -> Usage:
    activity = {at(0): False} | ({at(idle_from): True} if idle_from is not None else {})
    return Usage(
        start=at(0),
        end=at(minutes),
        meter_start_wh=0,
        readings={at(minute): wh for minute, wh in readings.items()},
        activity=activity,
    )


def test_a_session_crossing_a_tariff_change_with_idle_time_and_tax() -> None:
    # 10:00-10:30 tariff A, from 10:30 tariff B. 10 kWh by 10:30, 15 kWh by 10:45, then the car is full (idle).
    day = prices(
        1, per_kwh="0.30", per_charging_minute="0.02", per_idle_minute="0.10", session_fee="1.00", tax_rate="0.20"
    )
    evening = prices(2, per_kwh="0.40", per_charging_minute="0.05", per_idle_minute="0.20", tax_rate="0.20")
    periods = [TariffPeriod(day, ends=at(30)), TariffPeriod(evening, starts=at(30))]
    cost = session_cost(usage(60, {30: 10_000, 45: 15_000, 60: 15_000}, idle_from=45), periods)
    assert cost is not None
    # energy: 10 kWh x 0.30 + 5 kWh x 0.40 = 3.00 + 2.00
    assert cost.energy == Decimal("5.00")
    # charging: 30 min x 0.02 + 15 min x 0.05 = 0.60 + 0.75
    assert cost.charging_time == Decimal("1.35")
    # idle: 15 min x 0.20
    assert cost.idle_time == Decimal("3.00")
    assert cost.session_fee == Decimal("1.00")
    assert cost.net == Decimal("10.35")
    # 20 % of 10.35
    assert cost.tax == Decimal("2.07")
    assert cost.total == Decimal("12.42")
    assert [piece.tariff_id for piece in cost.slices] == [1, 2]
    assert [piece.energy_wh for piece in cost.slices] == [Decimal(10_000), Decimal(5_000)]
    assert [piece.idle_minutes for piece in cost.slices] == [Decimal(0), Decimal(15)]


def test_energy_between_readings_is_interpolated_at_a_tariff_change() -> None:
    # One reading at 10:40 (8 kWh); the change at 10:20 gets 4 kWh on each side.
    cheap, dear = prices(1, per_kwh="0.25"), prices(2, per_kwh="0.50")
    periods = [TariffPeriod(cheap, ends=at(20)), TariffPeriod(dear, starts=at(20))]
    cost = session_cost(usage(40, {40: 8_000}), periods)
    assert cost is not None
    assert cost.energy == Decimal("3.00")  # 4 x 0.25 + 4 x 0.50


def test_idle_that_ends_when_the_car_draws_power_again_is_counted_only_while_idle() -> None:
    tariff = prices(per_charging_minute="0.10", per_idle_minute="1.00")
    session = Usage(
        start=at(0),
        end=at(30),
        meter_start_wh=0,
        readings={},
        activity={at(10): True, at(15): False, at(25): True},
    )
    cost = session_cost(session, [TariffPeriod(tariff)])
    assert cost is not None
    assert (cost.charging_time, cost.idle_time) == (Decimal("2.00"), Decimal("10.00"))  # 20 min charging, 10 idle


def test_tax_and_session_fee_are_rounded_half_up_to_cents_at_the_end() -> None:
    # 7 kWh x 0.2999 = 2.0993 -> 2.10; fee 0.125 -> 0.13; tax 19 % of (2.0993 + 0.125) = 0.422567 -> 0.42
    tariff = prices(per_kwh="0.2999", session_fee="0.125", tax_rate="0.19")
    cost = session_cost(usage(60, {60: 7_000}), [TariffPeriod(tariff)])
    assert cost is not None
    assert (cost.energy, cost.session_fee, cost.net, cost.tax, cost.total) == (
        Decimal("2.10"),
        Decimal("0.13"),
        Decimal("2.23"),
        Decimal("0.42"),
        Decimal("2.65"),
    )
    assert round_to_cents(Decimal("0.125")) == Decimal("0.13")  # not banker's rounding


def test_minutes_are_exact_not_rounded_up() -> None:
    cost = session_cost(usage(1.5, {}), [TariffPeriod(prices(per_charging_minute="0.10"))])
    assert cost is not None
    assert cost.charging_time == Decimal("0.15")


def test_time_outside_every_tariff_costs_nothing_and_no_tariff_means_no_cost() -> None:
    tariff = prices(per_charging_minute="1")
    cost = session_cost(usage(60, {}), [TariffPeriod(tariff, starts=at(40))])
    assert cost is not None
    assert cost.charging_time == Decimal("20.00")
    assert session_cost(usage(60, {}), []) is None


def test_tariffs_of_different_currencies_in_one_session_are_refused() -> None:
    periods = [TariffPeriod(prices(1), ends=at(30)), TariffPeriod(prices(2, currency="CHF"), starts=at(30))]
    with pytest.raises(CostingError):
        session_cost(usage(60, {}), periods)


def test_breakdown_carries_decimal_strings_never_floats() -> None:
    cost = session_cost(usage(60, {60: 1_000}), [TariffPeriod(prices(per_kwh="0.333"))])
    assert cost is not None
    breakdown = cost.breakdown()
    assert breakdown["total"] == "0.33" and breakdown["currency"] == "EUR"
    assert breakdown["slices"][0]["energy_wh"] == "1000.000"
