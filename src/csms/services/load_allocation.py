"""How a site's current is shared among the cars charging on it: one pure function, `allocate`.

A site has one grid connection, `limit_a` amperes per phase. Each charging session asks for up to its
charger's maximum. The rules, in order:

1. A session whose charger refused its last limit, or cannot be reached, is counted at its charger's
   maximum: csms cannot know it obeys anything less (worst case). What is left is shared among the rest.
2. Sessions are admitted in order (by arrival; under the `priority` strategy, higher priority first) while
   each admitted one can get at least `min_current_a`. The others wait at 0 A, and the first of them is
   admitted as soon as the minimum frees up: the earliest waiting car is served before later arrivals.
3. The admitted share what is left: equally, or in proportion to their priority, never above what each
   can use. A car that draws markedly less than its limit (its draw is below its limit by more than
   `hysteresis_a`) can use its draw plus `hysteresis_a`, no more; what it leaves goes to the others.

Amperes are worked in tenths (OCPP limits carry one decimal) and rounded down, so the sum of the limits
never exceeds the site's limit, whatever the floating-point arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["equal", "priority"]
STRATEGIES: tuple[Strategy, ...] = ("equal", "priority")
DEFAULT_HYSTERESIS_A = 2.0
_TENTHS = 10


@dataclass(frozen=True, slots=True)
class Demand:
    """One charging session on the site. `order` ranks arrival (smaller came first); `drawn_a` is what the
    car draws by its latest meter values (None: not known yet); `limit_a` the limit in force on it now."""

    key: int
    max_current_a: float
    order: int
    priority: int = 1
    drawn_a: float | None = None
    limit_a: float | None = None
    unresponsive: bool = False


@dataclass(frozen=True, slots=True)
class Share:
    """What one session gets: `limit_a` to send (0 while it waits) and `counted_a`, what the site counts
    for it (its charger's maximum when unresponsive)."""

    key: int
    limit_a: float
    counted_a: float
    waiting: bool = False
    unresponsive: bool = False


def allocate(
    limit_a: float,
    demands: Iterable[Demand],
    *,
    min_current_a: float,
    strategy: Strategy = "equal",
    hysteresis_a: float = DEFAULT_HYSTERESIS_A,
) -> dict[int, Share]:
    """Each session's share of `limit_a` by the rules above, keyed by `Demand.key`."""
    demands = list(demands)
    minimum = _tenths(min_current_a)
    capacity = _tenths(limit_a)
    shares: dict[int, Share] = {}
    for demand in demands:
        if demand.unresponsive:
            counted = _tenths(demand.max_current_a)
            capacity -= counted
            # What it is asked to take once it answers again: the minimum, so its worst case frees up.
            retry_a = min(min_current_a, demand.max_current_a)
            shares[demand.key] = Share(demand.key, retry_a, counted / _TENTHS, unresponsive=True)
    candidates = sorted((d for d in demands if not d.unresponsive), key=lambda d: _rank(d, strategy))
    admitted: list[Demand] = []
    for demand in candidates:
        if capacity - minimum * (len(admitted) + 1) >= 0 and _tenths(demand.max_current_a) >= minimum:
            admitted.append(demand)
        else:
            shares[demand.key] = Share(demand.key, 0.0, 0.0, waiting=True)
    levels = _water_fill(
        capacity,
        minimum,
        caps=[_usable(demand, hysteresis_a) for demand in admitted],
        weights=[demand.priority if strategy == "priority" else 1 for demand in admitted],
    )
    for demand, level in zip(admitted, levels, strict=True):
        shares[demand.key] = Share(demand.key, level / _TENTHS, level / _TENTHS)
    return shares


def counted_total_a(shares: Iterable[Share]) -> float:
    """What the site counts in all: the sum csms keeps under the site's limit."""
    return sum(_tenths(share.counted_a) for share in shares) / _TENTHS


def _rank(demand: Demand, strategy: Strategy) -> tuple[int, int, int]:
    priority = -demand.priority if strategy == "priority" else 0
    return (priority, demand.order, demand.key)


def _usable(demand: Demand, hysteresis_a: float) -> int:
    """The most this session can use, in tenths: its charger's maximum, or its draw plus the hysteresis
    when the car draws markedly less than the limit it has."""
    maximum = _tenths(demand.max_current_a)
    if demand.drawn_a is None or demand.limit_a is None:
        return maximum
    if demand.drawn_a < demand.limit_a - hysteresis_a:
        return min(maximum, _tenths(demand.drawn_a + hysteresis_a))
    return maximum


def _water_fill(capacity: int, minimum: int, *, caps: Sequence[int], weights: Sequence[int]) -> list[int]:
    """Levels (tenths) in proportion to `weights`, each at least `minimum` (the caller admitted only as
    many as fit) and at most its cap, using as much of `capacity` as they can.

    The common level is the highest whole number of tenths per unit of weight that fits; the tenths it
    leaves are handed out one at a time, in the order the sessions were admitted.
    """
    caps = [max(cap, minimum) for cap in caps]  # a charger stops below the minimum: it gets that much

    def levels_at(level: int) -> list[int]:
        return [min(cap, max(minimum, weight * level)) for cap, weight in zip(caps, weights, strict=True)]

    low, high = 0, max(caps, default=0)
    while low < high:  # the highest level whose total fits
        middle = (low + high + 1) // 2
        if sum(levels_at(middle)) <= capacity:
            low = middle
        else:
            high = middle - 1
    levels = levels_at(low)
    spare = capacity - sum(levels)
    rising = [index for index, cap in enumerate(caps) if levels[index] < cap]
    while spare > 0 and rising:
        for index in rising[:spare]:
            levels[index] += 1
        spare -= min(spare, len(rising))
        rising = [index for index in rising if levels[index] < caps[index]]
    return levels


def _tenths(amperes: float) -> int:
    """Amperes in tenths, rounded down (a limit never rounds up past what was allowed)."""
    return int(amperes * _TENTHS + 1e-9) if amperes > 0 else 0
