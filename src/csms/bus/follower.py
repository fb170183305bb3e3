"""Following a subject on the bus in the background, for as long as a node runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from csms.bus import Bus, Message, Subscription

logger = logging.getLogger(__name__)


class Follower:
    """Calls `handle` for every message whose subject matches `pattern`, until closed."""

    def __init__(self, bus: Bus, pattern: str, handle: Callable[[Message], Awaitable[None]]) -> None:
        self._bus = bus
        self._pattern = pattern
        self._handle = handle
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(self._pattern)
        self._task = asyncio.create_task(self._follow(self._subscription), name=f"follow {self._pattern}")

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, subscription: Subscription) -> None:
        async for _subject, message in subscription:
            try:
                await self._handle(message)
            except Exception:
                logger.exception("could not handle a message on %s", self._pattern)
