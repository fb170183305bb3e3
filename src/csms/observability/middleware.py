"""Pure ASGI middleware (BaseHTTPMiddleware would buffer streams and skip WebSockets): request ids, HTTP metrics."""

from __future__ import annotations

import re
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.ids import unique_uuid
from csms.observability import logs
from csms.observability.metrics import OTHER, Metrics

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only when it is short and plain, so it cannot forge log lines or headers.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class ObservationMiddleware:
    """Every request and WebSocket gets an id (the caller's `X-Request-ID` or a new one) in its log lines;
    HTTP requests are counted by method, route template (never the raw path) and status.

    One middleware for both: each layer of ASGI middleware is one more coroutine and send wrapper per
    request, on every request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._observe_request(scope, receive, send)
        elif scope["type"] == "websocket":
            # A WebSocket gets its id for its log lines, but its frames are not wrapped one by one.
            token = logs.request_id.set(request_id_of(scope))
            try:
                await self.app(scope, receive, send)
            finally:
                logs.request_id.reset(token)
        else:
            await self.app(scope, receive, send)

    async def _observe_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        value = request_id_of(scope)
        token = logs.request_id.set(value)
        status = 500  # what the client sees when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
            method = scope["method"] if scope["method"] in _METHODS else OTHER
            seconds = time.perf_counter() - started
            self.metrics.count_http_request(method=method, route=_route(scope), status=status, seconds=seconds)


def request_id_of(scope: Scope) -> str:
    """The caller's `X-Request-ID` when it is acceptable, else a new id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _ACCEPTABLE_REQUEST_ID.match(candidate):
                return candidate
    return new_request_id()


def new_request_id() -> str:
    return unique_uuid().hex


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE
