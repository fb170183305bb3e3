"""The bus between csms nodes: events (publish/subscribe) and requests to whichever node holds a charger.

One `Bus` protocol, two implementations that pass the same contract tests: `MemoryBus` for a single
node (the default) and `NatsBus` for several nodes sharing a NATS server.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

Message = dict[str, Any]
Responder = Callable[[Message], Awaitable[Message]]

_UNSAFE_SUBJECT_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


class BusError(Exception):
    pass


class NoResponders(BusError):
    """Nobody serves the subject: for a charger, it is connected to no node."""


class RequestTimeout(BusError):
    pass


class BusUnavailable(BusError):
    pass


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[tuple[str, Message]]: ...

    async def close(self) -> None: ...


class ResponderHandle(Protocol):
    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, subject: str, message: Message) -> None:
        """Send an event to every current subscriber; nobody listening is fine."""

    async def subscribe(self, pattern: str) -> Subscription:
        """Events whose subject matches `pattern` (NATS wildcards: `*` one token, `>` the rest), from
        every node, published once this returns."""

    async def request(self, subject: str, message: Message, *, within: float) -> Message:
        """Ask the one responder of `subject`; NoResponders at once when there is none."""

    async def serve(self, subject: str, responder: Responder) -> ResponderHandle:
        """Answer requests on `subject` until the handle is closed."""

    async def is_healthy(self) -> bool: ...

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call `callback` each time the bus is back after an interruption (never, in process)."""


def subject_token(value: str) -> str:
    """Encode a charge point id as one subject token (ids may hold '.', which NATS splits on)."""
    return _UNSAFE_SUBJECT_CHARACTERS.sub(lambda match: f"~{ord(match.group()):02X}", value)


def command_subject(charge_point_id: str, connection_id: str) -> str:
    """The subject of one socket of a charger: only the node holding that socket answers it."""
    return f"csms.commands.{subject_token(charge_point_id)}.{subject_token(connection_id)}"


def connected_subject(charge_point_id: str) -> str:
    return f"csms.connections.{subject_token(charge_point_id)}"


def event_subject(kind: str) -> str:
    return f"csms.events.{kind}"


def subject_matches(pattern: str, subject: str) -> bool:
    wanted, actual = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(actual) > index
        if index >= len(actual) or (part != "*" and part != actual[index]):
            return False
    return len(wanted) == len(actual)
