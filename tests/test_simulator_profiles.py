"""The simulated charger's charging profiles: OCPP's stacking rules, read from either version's payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.simulator.profiles import (
    STATION_MAX,
    TX,
    TX_DEFAULT,
    ChargingProfiles,
    ClearCriteria,
    Period,
    Profile,
    read_clear,
    read_profile,
)

T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def profile(
    profile_id: int, purpose: str, limit: float, *, connector_id: int = 1, stack_level: int = 0, **fields: Any
) -> Profile:
    return Profile(
        profile_id=profile_id,
        connector_id=connector_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=fields.pop("kind", "Relative"),
        periods=fields.pop("periods", (Period(0, limit),)),
        set_at=T0,
        **fields,
    )


def holding(*profiles: Profile, transaction: str | None = "7", started: datetime = T0) -> ChargingProfiles:
    held = ChargingProfiles()
    for one in profiles:
        held.set(one)
    if transaction is not None:
        held.transaction_started(1, transaction, started)
    return held


def test_a_connector_without_profiles_is_unlimited() -> None:
    assert holding().limit_a(1, T0) is None


def test_the_tx_profile_overrides_the_default_whatever_their_stack_levels() -> None:
    held = holding(profile(1, TX_DEFAULT, 6, stack_level=5), profile(2, TX, 20, stack_level=0))
    assert held.limit_a(1, T0) == 20


def test_the_station_maximum_caps_the_transaction_and_the_default() -> None:
    held = holding(profile(1, TX, 20), profile(2, STATION_MAX, 16, connector_id=0))
    assert held.limit_a(1, T0) == 16
    assert holding(profile(1, TX, 10), profile(2, STATION_MAX, 16, connector_id=0)).limit_a(1, T0) == 10
    assert holding(profile(2, STATION_MAX, 16, connector_id=0), transaction=None).limit_a(2, T0) == 16


def test_the_higher_stack_level_wins_and_the_lower_one_fills_in_after_it_ends() -> None:
    held = holding(profile(1, TX_DEFAULT, 16, stack_level=0), profile(2, TX_DEFAULT, 8, stack_level=1, duration=600))
    assert held.limit_a(1, T0 + timedelta(seconds=599)) == 8
    assert held.limit_a(1, T0 + timedelta(seconds=600)) == 16


def test_a_default_on_the_whole_charger_applies_to_each_connector_unless_it_has_its_own() -> None:
    held = holding(profile(1, TX_DEFAULT, 10, connector_id=0), profile(2, TX_DEFAULT, 13, connector_id=2))
    assert (held.limit_a(1, T0), held.limit_a(2, T0)) == (10, 13)


def test_a_tx_profile_is_only_for_its_transaction_and_ends_with_it() -> None:
    held = holding(profile(1, TX_DEFAULT, 6), profile(2, TX, 20, transaction_id="7"))
    assert held.limit_a(1, T0) == 20
    assert held.limit_a(1, T0, transaction_id="8") == 6
    held.transaction_ended(1)
    assert held.limit_a(1, T0) == 6 and [p.purpose for p in held.profiles] == [TX_DEFAULT]


def test_a_profile_counts_only_between_valid_from_and_valid_to() -> None:
    held = holding(profile(1, TX, 10, valid_from=T0 + timedelta(hours=1), valid_to=T0 + timedelta(hours=2)))
    assert held.limit_a(1, T0) is None
    assert held.limit_a(1, T0 + timedelta(hours=1)) == 10
    assert held.limit_a(1, T0 + timedelta(hours=2)) is None


def test_relative_periods_count_from_the_transactions_start() -> None:
    periods = (Period(0, 32), Period(900, 16))
    held = holding(profile(1, TX_DEFAULT, 0, periods=periods), started=T0 - timedelta(minutes=10))
    assert held.limit_a(1, T0) == 32
    assert held.limit_a(1, T0 + timedelta(minutes=5)) == 16


def test_absolute_periods_count_from_the_schedules_start_and_nothing_before_it() -> None:
    periods = (Period(0, 20), Period(3600, 6))
    held = holding(profile(1, STATION_MAX, 0, connector_id=0, kind="Absolute", periods=periods, start_schedule=T0))
    assert held.limit_a(1, T0 - timedelta(seconds=1)) is None
    assert held.limit_a(1, T0 + timedelta(minutes=59)) == 20
    assert held.limit_a(1, T0 + timedelta(hours=5)) == 6


def test_a_daily_profile_recurs_each_day() -> None:
    evening = (Period(0, 32), Period(9 * 3600, 10), Period(12 * 3600, 32))  # from 08:00: 10 A 17:00-20:00
    held = holding(
        profile(
            1, STATION_MAX, 0, connector_id=0, kind="Recurring", recurrency="Daily", periods=evening, start_schedule=T0
        )
    )
    three_days_later = T0 + timedelta(days=3)
    assert held.limit_a(1, three_days_later + timedelta(hours=10)) == 10  # 18:00
    assert held.limit_a(1, three_days_later + timedelta(hours=13)) == 32  # 21:00
    assert held.limit_a(1, three_days_later - timedelta(hours=1)) == 32  # 07:00, the day before's last period


def test_a_setting_of_the_same_id_or_the_same_place_replaces_the_old_one() -> None:
    held = holding(profile(1, TX_DEFAULT, 6), profile(1, TX_DEFAULT, 10, stack_level=3))
    assert [(p.profile_id, p.stack_level) for p in held.profiles] == [(1, 3)]
    held.set(profile(2, TX_DEFAULT, 12, stack_level=3))
    assert [(p.profile_id, p.periods[0].limit_a) for p in held.profiles] == [(2, 12)]


PROFILE_16 = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 4,
        "transactionId": 77,
        "stackLevel": 2,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "validTo": "2030-01-02T00:00:00Z",
        "chargingSchedule": {
            "startSchedule": "2030-01-01T08:00:00Z",
            "duration": 7200,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11040}, {"startPeriod": 60, "limit": 3680, "numberPhases": 1}],
        },
    },
}  # fmt: skip
PROFILE_201 = {  # the same profile as the `ocpp` package hands a 2.0.1 station's handler over
    "evse_id": 1,
    "charging_profile": {
        "id": 4,
        "transaction_id": "77",
        "stack_level": 2,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Absolute",
        "valid_to": "2030-01-02T00:00:00+00:00",
        "charging_schedule": [
            {
                "id": 1,
                "start_schedule": "2030-01-01T08:00:00Z",
                "duration": 7200,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 11040}, {"start_period": 60, "limit": 3680, "number_phases": 1}],
            }
        ],
    },
}  # fmt: skip


def test_either_versions_payload_in_either_spelling_reads_as_one_profile_in_amps() -> None:
    read_16, read_201 = read_profile(PROFILE_16, now=T0), read_profile(PROFILE_201, now=T0)
    assert read_16 == read_201
    assert (read_16.connector_id, read_16.transaction_id, read_16.purpose, read_16.valid_to) == (
        1,
        "77",
        TX,
        datetime(2030, 1, 2, tzinfo=UTC),
    )
    assert [(p.start_period, p.limit_a) for p in read_16.periods] == [(0, 16), (60, 16)]


def test_the_charge_point_max_profile_of_1_6_is_the_station_maximum() -> None:
    payload = {**PROFILE_16, "connectorId": 0}
    payload["csChargingProfiles"] = {**PROFILE_16["csChargingProfiles"], "chargingProfilePurpose": "ChargePointMaxProfile"}  # type: ignore[dict-item]  # fmt: skip
    assert read_profile(payload, now=T0).purpose == STATION_MAX
    assert read_clear({"chargingProfilePurpose": "ChargePointMaxProfile"}) == ClearCriteria(purpose=STATION_MAX)


def test_clearing_by_id_ignores_the_other_criteria_and_clearing_by_criteria_needs_them_all() -> None:
    held = holding(
        profile(1, TX_DEFAULT, 6, connector_id=1, stack_level=1),
        profile(2, TX_DEFAULT, 6, connector_id=2, stack_level=1),
        profile(3, TX_DEFAULT, 6, connector_id=2, stack_level=2),
        profile(4, STATION_MAX, 6, connector_id=0),
    )
    assert held.clear(read_clear({"id": 1, "connectorId": 2})) == 1
    assert held.clear(read_clear({"charging_profile_criteria": {"evse_id": 2, "stack_level": 2}})) == 1
    assert [p.profile_id for p in held.profiles] == [2, 4]
    assert held.clear(read_clear({"chargingProfileId": 9})) == 0
    assert held.clear(read_clear({})) == 2 and held.profiles == []


def test_the_composite_schedule_starts_a_period_where_the_limit_changes() -> None:
    periods = (Period(0, 20), Period(600, 8), Period(1200, 24))
    held = holding(
        profile(1, TX, 0, periods=periods),
        profile(2, STATION_MAX, 16, connector_id=0, kind="Absolute", start_schedule=T0 + timedelta(seconds=900)),
    )
    assert held.composite_schedule(1, T0, 1800, unlimited_a=32) == [Period(0, 20), Period(600, 8), Period(1200, 16)]
    ending = holding(profile(1, TX, 10, duration=300))
    assert ending.composite_schedule(1, T0, 600, unlimited_a=32) == [Period(0, 10), Period(300, 32)]


# -- any set of profiles --------------------------------------------------------------------

moments = st.integers(min_value=0, max_value=4 * 3600)
period_lists = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3600), st.floats(min_value=0, max_value=63, allow_nan=False)),
    max_size=3,
)


@st.composite
def profiles(draw: st.DrawFn, profile_id: int) -> Profile:
    purpose = draw(st.sampled_from([TX, TX_DEFAULT, STATION_MAX]))
    kind = draw(st.sampled_from(["Absolute", "Relative"]))
    starts, limits = [0], [draw(st.floats(min_value=0, max_value=63, allow_nan=False))]
    for gap, limit in draw(period_lists):
        starts.append(starts[-1] + gap)
        limits.append(limit)
    valid_from = draw(st.none() | moments)
    return Profile(
        profile_id=profile_id,
        connector_id=0 if purpose == STATION_MAX else draw(st.sampled_from([0, 1])) if purpose == TX_DEFAULT else 1,
        stack_level=draw(st.integers(min_value=0, max_value=3)),
        purpose=purpose,
        kind=kind,
        periods=tuple(Period(start, limit) for start, limit in zip(starts, limits, strict=True)),
        start_schedule=T0 + timedelta(seconds=draw(moments)) if kind == "Absolute" else None,
        duration=draw(st.none() | st.integers(min_value=1, max_value=3 * 3600)),
        valid_from=T0 + timedelta(seconds=valid_from) if valid_from is not None else None,
        transaction_id=draw(st.sampled_from([None, "7", "8"])) if purpose == TX else None,
        set_at=T0,
    )


profile_sets = st.integers(min_value=0, max_value=6).flatmap(
    lambda count: st.tuples(*(profiles(profile_id) for profile_id in range(1, count + 1)))
)


@settings(max_examples=300, deadline=None)
@given(profile_sets, moments)
def test_any_limit_is_one_a_profile_names_and_never_above_a_station_maximum_in_force(
    held_profiles: tuple[Profile, ...], second: int
) -> None:
    held = holding(*held_profiles)
    now = T0 + timedelta(seconds=second)
    limit = held.limit_a(1, now)
    for_this_transaction = [p for p in held.profiles if p.transaction_id != "8"]
    in_force = [p.limit_at(now, T0) for p in for_this_transaction]
    assert (limit is None) == all(value is None for value in in_force)
    if limit is not None:
        assert limit in in_force
    maxima = [p for p in held.profiles if p.purpose == STATION_MAX and p.limit_at(now) is not None]
    if maxima:
        top = max(maxima, key=lambda p: p.stack_level)
        assert limit is not None and limit <= top.limit_at(now)  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(profile_sets, moments, st.randoms(use_true_random=False))
def test_the_order_profiles_were_set_in_does_not_change_the_limit(
    held_profiles: tuple[Profile, ...], second: int, random: Any
) -> None:
    places = {(p.connector_id, p.purpose, p.stack_level): p for p in reversed(held_profiles)}
    distinct = list(places.values())  # profiles of the same place replace each other: there order counts
    shuffled = list(distinct)
    random.shuffle(shuffled)
    now = T0 + timedelta(seconds=second)
    assert holding(*distinct).limit_a(1, now) == holding(*shuffled).limit_a(1, now)


@settings(max_examples=200, deadline=None)
@given(profile_sets, st.lists(moments, min_size=1, max_size=20))
def test_the_composite_schedule_gives_the_limit_in_force_at_every_moment(
    held_profiles: tuple[Profile, ...], seconds: list[int]
) -> None:
    held = holding(*held_profiles)
    schedule = held.composite_schedule(1, T0, 4 * 3600 + 1, unlimited_a=32)
    assert schedule[0].start_period == 0
    for second in seconds:
        period = [p for p in schedule if p.start_period <= second][-1]
        limit = held.limit_a(1, T0 + timedelta(seconds=second))
        assert period.limit_a == (32 if limit is None else min(limit, 32))
