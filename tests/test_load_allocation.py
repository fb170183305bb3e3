"""The allocation function of site load management (services/load_allocation.py), on its own."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.services.load_allocation import DEFAULT_HYSTERESIS_A, Demand, allocate

TENTH = 0.1
SLACK = 1e-6


def test_six_cars_on_a_63_a_site_share_it_equally() -> None:
    demands = [Demand(key=index, max_current_a=32, order=index) for index in range(6)]
    shares = allocate(63, demands, min_current_a=6)
    assert [share.limit_a for share in shares.values()] == [10.5] * 6


def test_a_car_that_cannot_get_the_minimum_waits_and_the_earliest_waiting_is_served_first() -> None:
    demands = [Demand(key=index, max_current_a=32, order=index) for index in range(12)]
    shares = allocate(63, demands, min_current_a=6)
    assert [key for key, share in shares.items() if share.waiting] == [10, 11]
    assert all(shares[key].limit_a == 6.3 for key in range(10))
    # Car 0 leaves: car 10, which waited longest, gets in; car 11 still waits.
    shares = allocate(63, demands[1:], min_current_a=6)
    assert [key for key, share in shares.items() if share.waiting] == [11]


def test_a_car_drawing_less_than_its_share_leaves_the_rest_to_the_others() -> None:
    demands = [
        Demand(key=0, max_current_a=32, order=0, drawn_a=10, limit_a=21),
        Demand(key=1, max_current_a=32, order=1, drawn_a=21, limit_a=21),
        Demand(key=2, max_current_a=32, order=2, drawn_a=21, limit_a=21),
    ]
    shares = allocate(63, demands, min_current_a=6)
    assert shares[0].limit_a == 10 + DEFAULT_HYSTERESIS_A
    assert shares[1].limit_a == shares[2].limit_a == 25.5


def test_a_charger_that_does_not_obey_is_counted_at_its_maximum() -> None:
    demands = [Demand(key=0, max_current_a=32, order=0, unresponsive=True)] + [
        Demand(key=index, max_current_a=32, order=index) for index in range(1, 4)
    ]
    shares = allocate(63, demands, min_current_a=6)
    assert shares[0].counted_a == 32 and shares[0].unresponsive
    assert [shares[key].limit_a for key in (1, 2, 3)] == [10.4, 10.3, 10.3]  # 31 A: the spare tenth to the first


def test_under_the_priority_strategy_a_fleet_vehicle_gets_more_and_gets_in_first() -> None:
    demands = [Demand(key=0, max_current_a=32, order=0), Demand(key=1, max_current_a=32, order=1, priority=2)]
    shares = allocate(30, demands, min_current_a=6, strategy="priority")
    assert (shares[0].limit_a, shares[1].limit_a) == (10.0, 20.0)
    shares = allocate(10, demands, min_current_a=6, strategy="priority")
    assert (shares[0].waiting, shares[1].limit_a) == (True, 10.0)


demand_lists = st.lists(
    st.builds(
        Demand,
        key=st.integers(0, 10**6),
        max_current_a=st.sampled_from([6, 10, 16, 20, 32, 63, 80]) | st.floats(0, 100),
        order=st.integers(0, 1000),
        priority=st.integers(1, 10),
        drawn_a=st.none() | st.floats(0, 100),
        limit_a=st.none() | st.floats(0, 100),
        unresponsive=st.booleans(),
    ),
    max_size=40,
    unique_by=lambda demand: demand.key,
)


@settings(max_examples=400, deadline=None)
@given(
    demands=demand_lists,
    limit_a=st.floats(0, 1000),
    min_current_a=st.sampled_from([0, 6, 8]) | st.floats(0, 16),
    strategy=st.sampled_from(["equal", "priority"]),
)
def test_any_allocation_keeps_the_site_under_its_limit_and_wastes_nothing(
    demands: list[Demand], limit_a: float, min_current_a: float, strategy: str
) -> None:
    shares = allocate(limit_a, demands, min_current_a=min_current_a, strategy=strategy)  # type: ignore[arg-type]
    assert set(shares) == {demand.key for demand in demands}
    by_key = {demand.key: demand for demand in demands}
    unresponsive_a = sum(share.counted_a for share in shares.values() if share.unresponsive)
    capacity = max(0.0, limit_a - unresponsive_a)
    served = [share for share in shares.values() if not share.waiting and not share.unresponsive]
    waiting = [share for share in shares.values() if share.waiting]

    # Never over the limit, what the unresponsive chargers may draw counted in.
    assert sum(share.limit_a for share in served) <= capacity + SLACK
    for share in served:
        demand = by_key[share.key]
        # Each car charging gets at least the minimum, and never more than its charger gives.
        assert share.limit_a >= _floor_tenth(min_current_a) - SLACK
        assert share.limit_a <= max(demand.max_current_a, _floor_tenth(min_current_a)) + SLACK
    for share in waiting:
        assert share.limit_a == 0
    # A car waits only when one more minimum would not fit (or its charger cannot give the minimum).
    if any(by_key[share.key].max_current_a >= min_current_a + TENTH for share in waiting):
        assert capacity - len(served) * _floor_tenth(min_current_a) < _floor_tenth(min_current_a) + TENTH
    # Nothing wasted: either the capacity is used up (to rounding) or every car has all it can use.
    used = sum(share.limit_a for share in served)
    if used < capacity - TENTH * (len(served) + 1):
        for share in served:
            demand = by_key[share.key]
            assert share.limit_a >= min(demand.max_current_a, _usable(demand)) - TENTH - SLACK


@settings(max_examples=200, deadline=None)
@given(demands=demand_lists, limit_a=st.floats(0, 1000))
def test_under_equal_sharing_cars_below_what_they_can_use_get_the_same(demands: list[Demand], limit_a: float) -> None:
    shares = allocate(limit_a, demands, min_current_a=6)
    by_key = {demand.key: demand for demand in demands}
    held_back = [
        share.limit_a
        for share in shares.values()
        if not share.waiting and not share.unresponsive and share.limit_a < _cap(by_key[share.key]) - TENTH - SLACK
    ]
    if held_back:
        assert max(held_back) - min(held_back) <= TENTH + SLACK


def _usable(demand: Demand) -> float:
    if demand.drawn_a is not None and demand.limit_a is not None and demand.drawn_a < demand.limit_a - 2:
        return demand.drawn_a + DEFAULT_HYSTERESIS_A
    return demand.max_current_a


def _cap(demand: Demand) -> float:
    return max(min(demand.max_current_a, _usable(demand)), 6)


def _floor_tenth(amperes: float) -> float:
    return int(amperes * 10 + 1e-9) / 10
