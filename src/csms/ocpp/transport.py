"""uvicorn's WebSocket protocol with less kept per socket: a node holds tens of thousands of idle chargers.

uvicorn's websockets (sans-I/O) protocol keeps, for a socket's whole life, the handshake request and
response with their headers, an `asyncio.Queue` (four deques) for the ASGI events of which one at most
is usually waiting, an `asyncio.Event` (one more deque) for write pauses, and dozens of attributes in an
instance dict, which past 30 keys stops sharing its keys with the class and grows. Here the attributes
live in slots, the queue and the event keep plain lists instead of deques, and the handshake and its
headers are dropped once the socket is open.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent
    from uvicorn.config import Config
    from uvicorn.server import ServerState

PROTOCOL = "csms.ocpp.transport:LeanWebSockets"

Item = TypeVar("Item")


class LeanWebSockets(WebSocketsSansIOProtocol):
    """The same protocol and behaviour; uvicorn's code runs unchanged over lighter state."""

    __slots__ = (
        "app", "app_state", "asgi_version", "client", "close_sent", "close_timeout", "close_timer", "config",
        "conn", "connections", "curr_msg_data_type", "default_headers", "disconnected", "frames",
        "handshake_complete", "handshake_initiated", "initial_response", "last_ping_rtt", "logger", "loop",
        "pending_ping_payload", "ping_interval", "ping_sent_at", "ping_timeout", "ping_timer", "pong_timer",
        "queue", "read_paused", "request", "response", "root_path", "scheme", "scope", "server", "tasks",
        "transport", "writable",
    )  # fmt: skip

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = Flag(is_set=True)  # type: ignore[assignment]

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Only the accept itself reads the handshake; the ASGI scope has its own copy of the headers.
            # websockets' parser keeps the request in its frame for the socket's life: empty its headers.
            self.request.headers.clear()
            del self.request, self.response


class ReceiveQueue(Generic[Item]):
    """What uvicorn uses of `asyncio.Queue` (`put_nowait`, `get`, `empty`): unbounded, first in first out."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._getters: list[asyncio.Future[None]] = []

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Item) -> None:
        self._items.append(item)
        _wake_first(self._getters)

    async def get(self) -> Item:
        while not self._items:
            try:
                await _wait(self._getters)
            except asyncio.CancelledError:
                if self._items:
                    _wake_first(self._getters)  # woken for an item it will not take: pass it on
                raise
        return self._items.pop(0)


class Flag:
    """What uvicorn uses of `asyncio.Event` (`set`, `clear`, `wait`), with no deque while nothing waits."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self, *, is_set: bool = False) -> None:
        self._is_set = is_set
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> bool:
        if not self._is_set:
            await _wait(self._waiters)
        return True


async def _wait(waiters: list[asyncio.Future[None]]) -> None:
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    finally:
        if waiter in waiters:
            waiters.remove(waiter)


def _wake_first(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
            return
