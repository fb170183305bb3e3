"""The live event stream (`/api/events`, server-sent events) read as a client app reads it."""

from __future__ import annotations

import json
from typing import Any

import httpx


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
