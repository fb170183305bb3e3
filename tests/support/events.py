"""The live event stream (`/api/events`, server-sent events) read as a client app reads it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.waiting import wait_until


async def collect_events(url: str, token: dict[str, Any], into: list[dict[str, Any]]) -> None:
    """Appends every event of the stream to `into` (`{"event": name, **data}`) until cancelled."""
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", "/api/events", headers=headers) as stream,
    ):
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                into.append({"event": event, **json.loads(line.removeprefix("data: "))})


@dataclass
class OpenStream:
    """An open /api/events stream, read in the background: its lines, and whether csms ended it."""

    lines: list[str] = field(default_factory=list)
    status_code: int | None = None
    ended: bool = False

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The data of every `kind` event so far."""
        found = []
        for line, after in itertools.pairwise(self.lines):
            if line == f"event: {kind}" and after.startswith("data: "):
                found.append(json.loads(after.removeprefix("data: ")))
        return found

    def keep_alives(self) -> int:
        return self.lines.count(": keep-alive")


@contextlib.asynccontextmanager
async def live_stream(url: str, token: dict[str, Any]) -> AsyncIterator[OpenStream]:
    """Follow /api/events as `token` until the block ends (or csms ends the stream)."""
    stream = OpenStream()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", "/api/events", headers=headers) as response,
        ):
            stream.status_code = response.status_code
            async for line in response.aiter_lines():
                stream.lines.append(line)
        stream.ended = True

    reader = asyncio.create_task(read())
    await wait_until(lambda: ": connected" in stream.lines or reader.done())
    try:
        yield stream
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
