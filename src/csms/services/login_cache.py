"""Who is behind an access token, remembered briefly so most requests need no database read.

Tokens are checked against their session on every request (logout and blocking must bite at once),
which cost a query per request. The answer is kept here for `ttl` seconds; every change that ends
or alters a login (logout, refresh-token reuse, blocking, a role change, deletion) drops the entry
on this node at once and, through the bus, on every other node. A node that missed that announcement
drops every entry when the logins' change counter moves or the bus comes back
(services/cache_freshness.py), and no entry outlives `ttl` anyway.

Whatever outlives a request (a live event stream) watches these changes to re-check its login.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.bus import Bus, Message
from csms.bus.follower import Follower

logger = logging.getLogger(__name__)

INVALIDATIONS = "csms.logins.invalidate"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an active account behind a valid access token, as of `checked_at`."""

    id: int
    username: str
    role: str
    is_active: bool
    session_id: str
    app_id_tag: str | None
    checked_at: datetime


class LoginCache:
    def __init__(self, bus: Bus, *, clock: Callable[[], datetime], ttl: timedelta = timedelta(seconds=30)) -> None:
        self._bus = bus
        self._clock = clock
        self._ttl = ttl
        self._by_session: dict[str, Principal] = {}
        self._follower = Follower(bus, INVALIDATIONS, self._drop_announced)
        self._watchers: set[Callable[[Message], None]] = set()

    def get(self, session_id: str) -> Principal | None:
        principal = self._by_session.get(session_id)
        if principal is not None and self._clock() - principal.checked_at > self._ttl:
            del self._by_session[session_id]
            return None
        return principal

    def remember(self, principal: Principal) -> None:
        if len(self._by_session) > 100_000:
            self._by_session.clear()
        self._by_session[principal.session_id] = principal

    async def forget_session(self, session_id: str) -> None:
        self._drop({"session_id": session_id})
        await self._bus.publish(INVALIDATIONS, {"session_id": session_id})

    async def forget_user(self, user_id: int) -> None:
        self._drop({"user_id": user_id})
        await self._bus.publish(INVALIDATIONS, {"user_id": user_id})

    def watch(self, watcher: Callable[[Message], None]) -> Callable[[], None]:
        """Call `watcher` with every login change (`session_id` or `user_id`, or `every_login`) made on
        this node or announced by another; returns the function that stops it."""
        self._watchers.add(watcher)
        return lambda: self._watchers.discard(watcher)

    def forget_all(self) -> None:
        """Drop every login on this node only (changes on other nodes may have been missed); what
        watches logins re-checks its own (`{"every_login": True}`)."""
        self._by_session.clear()
        self._notify({"every_login": True})

    async def start(self) -> None:
        await self._follower.start()

    async def close(self) -> None:
        await self._follower.close()

    async def _drop_announced(self, message: Message) -> None:
        self._drop(message)

    def _drop(self, message: Message) -> None:
        if "session_id" in message:
            self._by_session.pop(str(message["session_id"]), None)
        if "user_id" in message:
            stale = [key for key, value in self._by_session.items() if value.id == message["user_id"]]
            for key in stale:
                del self._by_session[key]
        self._notify(message)

    def _notify(self, message: Message) -> None:
        for watcher in list(self._watchers):
            watcher(message)
