"""Throttling of failed logins, per account and per client address."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta


class LoginThrottle:
    """A sliding window of failures: after `limit` failures within `window`, the key waits.

    Kept in memory on each node; a node that restarts forgets, which only loosens the limit.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        per_account: int = 5,
        per_address: int = 20,
        window: timedelta = timedelta(minutes=15),
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self._limits = {"account": per_account, "address": per_address}
        self._window = window
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[datetime]] = {}

    def retry_after(self, *, account: str, address: str) -> int:
        """Seconds until a login may be tried again; 0 when it may be tried now."""
        now = self._clock()
        waits = [self._wait(("account", account), now), self._wait(("address", address), now)]
        return max(waits)

    def record_failure(self, *, account: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            self._failures.clear()
        for key in (("account", account), ("address", address)):
            self._failures.setdefault(key, deque()).append(now)

    def record_success(self, *, account: str) -> None:
        self._failures.pop(("account", account), None)

    def _wait(self, key: tuple[str, str], now: datetime) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if len(failures) < self._limits[key[0]]:
            return 0
        return max(1, math.ceil((failures[0] + self._window - now).total_seconds()))
