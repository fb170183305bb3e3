"""A webhook endpoint of the test's own, on a loopback port: it keeps what csms posts and answers as told."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Receiver:
    """Answers 500 to the first `failures` requests, then 200; keeps every request.

    With `fail_each_delivery_once`, also 500 to the first request of each delivery (X-CSMS-Delivery).

    Unless `released` is set, each request is kept waiting until it is (a hanging endpoint);
    `answer_after` delays every answer; `busy`/`most_busy` count requests in progress.
    """

    failures: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)
    answer_after: float = 0.0
    busy: int = 0
    most_busy: int = 0
    fail_each_delivery_once: bool = False
    _failed_deliveries: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.released.set()

    async def endpoint(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        self.arrivals.append((time.monotonic(), self.requests[-1][1]))
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await self.released.wait()
            await asyncio.sleep(self.answer_after)
        finally:
            self.busy -= 1
        if self.failures > 0:
            self.failures -= 1
            return Response(status_code=500)
        delivery_id = request.headers.get("x-csms-delivery", "")
        if self.fail_each_delivery_once and delivery_id not in self._failed_deliveries:
            self._failed_deliveries.add(delivery_id)
            return Response(status_code=500)
        return Response(status_code=200)

    def arrivals_of(self, delivery_id: int) -> list[float]:
        """When each request of this delivery arrived (time.monotonic())."""
        return [
            arrived
            for (headers, _body), (arrived, _same_body) in zip(self.requests, self.arrivals, strict=True)
            if headers.get("x-csms-delivery") == str(delivery_id)
        ]

    def events(self, charge_point_id: str) -> list[dict[str, Any]]:
        found = [json.loads(body) for _headers, body in self.requests]
        return [event for event in found if event.get("charge_point_id") == charge_point_id]


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A receiver on a loopback port of its own; hanging requests are released when it stops."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.should_exit = True
        await task
