"""Throttling of password guesses (logins, chargers' Basic auth) and of signups.

A guess holds a place under every limit it is counted against from before the password is checked
until the answer is known, so concurrent guesses cannot all slip through between a check and the count.
A guess that finds the places taken only by guesses still being checked waits for one of them to be
settled (a right password gives its place back, a wrong one keeps it as a failure); one that finds
them taken by failures is refused with the seconds until the oldest leaves the window.

The login policy, for failures within one `window`:
- one account from one address: `per_account_address` guesses;
- one address, whatever the accounts: `per_address` guesses;
- one account from every address together: `per_account`, a much higher ceiling, which does not
  apply to an address the account has logged in from before on this node. So an attacker hammering
  an account from elsewhere slows only themselves, and the owner still logs in from a known address.

Counts are kept in memory on each node: a node that restarts forgets them, which only loosens the
limits, and behind a load balancer each node counts the guesses it sees.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta


class TooManyAttempts(Exception):
    """The limit is reached; `retry_after` seconds until the next attempt may be made."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


class AttemptWindow:
    """At most `limit` attempts per key within a sliding `window`, those still being checked included."""

    def __init__(self, *, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._counted: dict[Hashable, deque[datetime]] = {}
        self._pending: Counter[Hashable] = Counter()

    def retry_after(self, key: Hashable, now: datetime) -> int:
        """Seconds until the counted attempts alone leave room for another; 0 when they do now."""
        counted = self._counted.get(key)
        if not counted:
            return 0
        while counted and counted[0] <= now - self._window:
            counted.popleft()
        if len(counted) < self._limit:
            return 0
        return max(1, math.ceil((counted[0] + self._window - now).total_seconds()))

    def has_room(self, key: Hashable) -> bool:
        return len(self._counted.get(key, ())) + self._pending[key] < self._limit

    def take(self, key: Hashable, now: datetime) -> None:
        """Count an attempt at once."""
        self._counted_for(key).append(now)

    def hold(self, key: Hashable) -> None:
        """Hold a place for an attempt whose outcome is not known yet."""
        self._pending[key] += 1

    def settle(self, key: Hashable, now: datetime, *, counts: bool) -> None:
        """The held attempt is over: it counts from `now` on (a failure), or gives its place back."""
        self._pending[key] -= 1
        if self._pending[key] <= 0:
            del self._pending[key]
        if counts:
            self._counted_for(key).append(now)

    def clear(self, key: Hashable) -> None:
        self._counted.pop(key, None)

    def _counted_for(self, key: Hashable) -> deque[datetime]:
        counted = self._counted.get(key)
        if counted is None:
            if len(self._counted) >= self._max_keys:
                del self._counted[next(iter(self._counted))]  # the key seen longest ago
            counted = self._counted[key] = deque()
        return counted


class Guess:
    """A password guess being checked, as a `with` block: it counts as a failure unless the block
    calls `succeeded()`, and its places are settled when the block ends, however it ends."""

    def __init__(self, settle: Callable[[bool], None]) -> None:
        self._settle = settle
        self._was_right = False

    def succeeded(self) -> None:
        self._was_right = True

    def __enter__(self) -> Guess:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self._settle(self._was_right)


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
        max_wait: float = 30.0,
    ) -> None:
        self._clock = clock
        self._by_account_address = AttemptWindow(limit=per_account_address, window=window, max_keys=max_keys)
        self._by_address = AttemptWindow(limit=per_address, window=window, max_keys=max_keys)
        self._by_account = AttemptWindow(limit=per_account, window=window, max_keys=max_keys)
        self._max_keys = max_keys
        self._known_per_account = known_addresses_per_account
        self._known: dict[str, dict[str, None]] = {}  # account → addresses it logged in from, oldest first
        self._max_wait = max_wait
        self._settled = asyncio.Event()

    async def begin(self, *, account: str, address: str) -> Guess:
        """Hold places for a guess at `account` from `address` (waiting while guesses still being
        checked fill them), or raise TooManyAttempts when failures fill them."""
        held = await self._hold(account, address)
        return Guess(lambda right: self._settle(held, account=account, address=address, right=right))

    def is_known_address(self, *, account: str, address: str) -> bool:
        return address in self._known.get(account, {})

    async def _hold(self, account: str, address: str) -> list[tuple[AttemptWindow, Hashable]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while True:
            windows = self._windows(account, address)
            now = self._clock()
            wait = max(window.retry_after(key, now) for window, key in windows)
            if wait:
                raise TooManyAttempts(wait)
            if all(window.has_room(key) for window, key in windows):
                for window, key in windows:
                    window.hold(key)
                return windows
            # Full only of guesses still being checked: one of them settling decides whether this one may go.
            settled = self._settled
            try:
                await asyncio.wait_for(settled.wait(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise TooManyAttempts(1) from None

    def _windows(self, account: str, address: str) -> list[tuple[AttemptWindow, Hashable]]:
        windows: list[tuple[AttemptWindow, Hashable]] = [
            (self._by_account_address, (account, address)),
            (self._by_address, address),
        ]
        if not self.is_known_address(account=account, address=address):
            windows.append((self._by_account, account))
        return windows

    def _settle(self, held: list[tuple[AttemptWindow, Hashable]], *, account: str, address: str, right: bool) -> None:
        now = self._clock()
        for window, key in held:
            window.settle(key, now, counts=not right)
        if right:
            self._by_account_address.clear((account, address))
            self._remember(account, address)
        self._settled.set()  # wake the waiting guesses; later ones wait on a fresh event
        self._settled = asyncio.Event()

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
        wait = self._window.retry_after(address, now)
        if wait:
            raise TooManyAttempts(wait)
        self._window.take(address, now)
