"""Small tables that every charging session consults (tariffs, webhooks), read once and kept until changed.

Reading them for every transaction would put database reads on the path of every charger's messages. A
change through the API drops the copy on this node at once and, through the bus, on every other node; the
next use reads it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from csms.bus import Bus, Message
from csms.bus.follower import Follower

CHANGES = "csms.caches.changed"

T = TypeVar("T")


class SharedTable(Generic[T]):
    def __init__(self, name: str, bus: Bus, load: Callable[[], Awaitable[T]]) -> None:
        self._name = name
        self._bus = bus
        self._load = load
        self._loaded: tuple[T] | None = None
        self._generation = 0  # a change while a read is under way must win over that read
        self._follower = Follower(bus, CHANGES, self._drop_announced)

    async def get(self) -> T:
        if self._loaded is not None:
            return self._loaded[0]
        generation = self._generation
        value = await self._load()
        if generation == self._generation:
            self._loaded = (value,)
        return value

    async def changed(self) -> None:
        """Call after changing the table: every node reads it again on next use."""
        self._forget()
        await self._bus.publish(CHANGES, {"cache": self._name})

    async def start(self) -> None:
        await self._follower.start()

    async def close(self) -> None:
        await self._follower.close()

    async def _drop_announced(self, message: Message) -> None:
        if message.get("cache") == self._name:
            self._forget()

    def _forget(self) -> None:
        self._generation += 1
        self._loaded = None
