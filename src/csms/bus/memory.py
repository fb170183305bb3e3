"""The in-process bus of a single csms node."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from csms.bus import Message, NoResponders, RequestTimeout, Responder, subject_matches


class MemorySubscription:
    def __init__(self, bus: MemoryBus, pattern: str, max_pending: int) -> None:
        self._bus = bus
        self.pattern = pattern
        self._queue: asyncio.Queue[tuple[str, Message] | None] = asyncio.Queue(max_pending)

    def deliver(self, subject: str, message: Message) -> None:
        # A slow reader loses its oldest events rather than stalling every publisher.
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait((subject, message))

    async def __aiter__(self) -> AsyncIterator[tuple[str, Message]]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def close(self) -> None:
        self._bus.forget(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)


class MemoryResponder:
    def __init__(self, bus: MemoryBus, subject: str, responder: Responder) -> None:
        self._bus = bus
        self.subject = subject
        self.responder = responder

    async def close(self) -> None:
        self._bus.stop_serving(self)


class MemoryBus:
    def __init__(self, *, max_pending: int = 1000) -> None:
        self._subscriptions: list[MemorySubscription] = []
        self._responders: dict[str, MemoryResponder] = {}
        self._max_pending = max_pending

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._responders.clear()

    async def publish(self, subject: str, message: Message) -> None:
        for subscription in self._subscriptions:
            if subject_matches(subscription.pattern, subject):
                subscription.deliver(subject, message)

    async def subscribe(self, pattern: str) -> MemorySubscription:
        subscription = MemorySubscription(self, pattern, self._max_pending)
        self._subscriptions.append(subscription)
        return subscription

    async def request(self, subject: str, message: Message, *, within: float) -> Message:
        served = self._responders.get(subject)
        if served is None:
            raise NoResponders(subject)
        try:
            async with asyncio.timeout(within):
                return await served.responder(message)
        except TimeoutError:
            raise RequestTimeout(subject) from None

    async def serve(self, subject: str, responder: Responder) -> MemoryResponder:
        handle = MemoryResponder(self, subject, responder)
        self._responders[subject] = handle
        return handle

    async def is_healthy(self) -> bool:
        return True

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        return None  # an in-process bus is never interrupted

    def forget(self, subscription: MemorySubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def stop_serving(self, handle: MemoryResponder) -> None:
        if self._responders.get(handle.subject) is handle:
            del self._responders[handle.subject]
