"""Small tables that every charging session consults (tariffs, webhooks), read once and kept until changed.

Reading them for every transaction would put database reads on the path of every charger's messages. A
change through the API drops the copy on this node at once and, through the bus, on every other node; the
next use reads it again. A copy is read again once older than `max_age` too, and dropped when the table's
change counter moves or the bus comes back (services/cache_freshness.py): a node that missed the
announcement catches up in bounded time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from csms.bus import Bus, Message
from csms.bus.follower import Follower

CHANGES = "csms.caches.changed"

T = TypeVar("T")


class SharedTable(Generic[T]):
    def __init__(
        self,
        name: str,
        bus: Bus,
        load: Callable[[], Awaitable[T]],
        *,
        max_age: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._bus = bus
        self._load = load
        self._max_age = max_age
        self._clock = clock
        self._loaded: tuple[T, float] | None = None  # the value and when it was read
        self._generation = 0  # a change while a read is under way must win over that read
        self._follower = Follower(bus, CHANGES, self._drop_announced)

    async def get(self) -> T:
        if self._loaded is not None and self._clock() - self._loaded[1] <= self._max_age:
            return self._loaded[0]
        generation, read_at = self._generation, self._clock()
        value = await self._load()
        if generation == self._generation:
            self._loaded = (value, read_at)
        return value

    async def changed(self) -> None:
        """Call after changing the table: every node reads it again on next use."""
        self.forget()
        await self._bus.publish(CHANGES, {"cache": self.name})

    async def start(self) -> None:
        await self._follower.start()

    async def close(self) -> None:
        await self._follower.close()

    async def _drop_announced(self, message: Message) -> None:
        if message.get("cache") == self.name:
            self.forget()

    def forget(self) -> None:
        """Drop the copy on this node only: the next use reads the table again."""
        self._generation += 1
        self._loaded = None
