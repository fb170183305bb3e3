"""Throttling of password guesses (logins, chargers' Basic auth) and of signups.

An attempt is counted when it begins, before the password is checked, so concurrent guesses cannot
all slip through between a check and the count; a successful attempt gives its count back.

The login policy, for attempts within one `window`:
- one account from one address: `per_account_address` guesses;
- one address, whatever the accounts: `per_address` guesses;
- one account from every address together: `per_account`, a much higher ceiling, which does not
  apply to an address the account has logged in from before on this node. So an attacker hammering
  an account from elsewhere slows only themselves, and the owner still logs in from a known address.

Counts are kept in memory on each node: a node that restarts forgets them, which only loosens the
limits, and behind a load balancer each node counts the attempts it sees.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta


class TooManyAttempts(Exception):
    """The limit is reached; `retry_after` seconds until the next attempt may be made."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


class AttemptWindow:
    """At most `limit` attempts per key within a sliding `window`."""

    def __init__(self, *, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._attempts: dict[Hashable, deque[datetime]] = {}

    def wait(self, key: Hashable, now: datetime) -> int:
        """Seconds until the key may make another attempt; 0 when it may now."""
        attempts = self._attempts.get(key)
        if not attempts:
            return 0
        while attempts and attempts[0] <= now - self._window:
            attempts.popleft()
        if len(attempts) < self._limit:
            return 0
        return max(1, math.ceil((attempts[0] + self._window - now).total_seconds()))

    def take(self, key: Hashable, now: datetime) -> None:
        attempts = self._attempts.get(key)
        if attempts is None:
            if len(self._attempts) >= self._max_keys:
                del self._attempts[next(iter(self._attempts))]  # the key seen longest ago
            attempts = self._attempts[key] = deque()
        attempts.append(now)

    def give_back(self, key: Hashable, at: datetime) -> None:
        attempts = self._attempts.get(key)
        if attempts is not None and at in attempts:
            attempts.remove(at)

    def clear(self, key: Hashable) -> None:
        self._attempts.pop(key, None)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A guess under way: what it was counted against, so success can give the counts back."""

    account: str
    address: str
    at: datetime
    counted: tuple[tuple[AttemptWindow, Hashable], ...]


class LoginThrottle:
    """The login policy of this module's docstring, for people's accounts or chargers' ids."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        per_account_address: int = 5,
        per_address: int = 20,
        per_account: int = 100,
        window: timedelta = timedelta(minutes=15),
        max_keys: int = 100_000,
        known_addresses_per_account: int = 10,
    ) -> None:
        self._clock = clock
        self._by_account_address = AttemptWindow(limit=per_account_address, window=window, max_keys=max_keys)
        self._by_address = AttemptWindow(limit=per_address, window=window, max_keys=max_keys)
        self._by_account = AttemptWindow(limit=per_account, window=window, max_keys=max_keys)
        self._max_keys = max_keys
        self._known_per_account = known_addresses_per_account
        self._known: dict[str, dict[str, None]] = {}  # account → addresses it logged in from, oldest first

    def begin(self, *, account: str, address: str) -> Attempt:
        """Count a guess at `account` from `address`, or raise TooManyAttempts without counting it."""
        now = self._clock()
        counted: list[tuple[AttemptWindow, Hashable]] = [
            (self._by_account_address, (account, address)),
            (self._by_address, address),
        ]
        if not self.is_known_address(account=account, address=address):
            counted.append((self._by_account, account))
        wait = max(window.wait(key, now) for window, key in counted)
        if wait:
            raise TooManyAttempts(wait)
        for window, key in counted:
            window.take(key, now)
        return Attempt(account, address, now, tuple(counted))

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the guess does not count, and the address is known from now on."""
        for window, key in attempt.counted:
            window.give_back(key, attempt.at)
        self._by_account_address.clear((attempt.account, attempt.address))
        self._remember(attempt.account, attempt.address)

    def is_known_address(self, *, account: str, address: str) -> bool:
        return address in self._known.get(account, {})

    def _remember(self, account: str, address: str) -> None:
        known = self._known.pop(account, None)
        if known is None and len(self._known) >= self._max_keys:
            del self._known[next(iter(self._known))]
        known = known or {}
        known.pop(address, None)
        known[address] = None
        while len(known) > self._known_per_account:
            del known[next(iter(known))]
        self._known[account] = known


class SignupThrottle:
    """At most `limit` signups per client address within `window`, counted before the work is done."""

    def __init__(self, *, clock: Callable[[], datetime], limit: int, window: timedelta = timedelta(hours=1)) -> None:
        self._clock = clock
        self._window = AttemptWindow(limit=limit, window=window)

    def begin(self, *, address: str) -> None:
        now = self._clock()
        wait = self._window.wait(address, now)
        if wait:
            raise TooManyAttempts(wait)
        self._window.take(address, now)
