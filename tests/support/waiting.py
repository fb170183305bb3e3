"""Waiting for what another task, node or process does: poll a condition until a generous deadline.

A condition that holds returns at once, so a long deadline costs a passing test nothing and lets a busy
machine be slow without failing the test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

Value = TypeVar("Value")

DEADLINE_SECONDS = 20.0


async def wait_until(condition: Callable[[], object], within: float = DEADLINE_SECONDS) -> None:
    """Polls a condition on data another task fills in (events arriving over HTTP, not through an Event)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def wait_for_true(check: Callable[[], Awaitable[bool]], within: float = DEADLINE_SECONDS) -> None:
    """Like wait_until, for a check that must await (a database read, an HTTP call)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def poll(
    fetch: Callable[[], Awaitable[Value]], until: Callable[[Value], bool], within: float = DEADLINE_SECONDS
) -> Value:
    """Fetches again until `until(value)` holds, and returns that value; fails with the last one seen."""
    value = await fetch()
    try:
        async with asyncio.timeout(within):
            while not until(value):
                await asyncio.sleep(0.05)
                value = await fetch()
    except TimeoutError:
        raise AssertionError(f"still {value!r} after {within} s") from None
    return value
