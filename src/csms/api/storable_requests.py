"""The REST edge for text the databases cannot store: refused with 422 before any route sees it.

A JSON body may spell a NUL (`"\\u0000"`) or a lone surrogate (`"\\ud800"`) as an escape; the path and
query string may carry `%00`; a header a NUL. Any of them in a row fails the write, or, for a lone
surrogate, the password hash or the query first, as a 500 (see csms.db.storable_text). Checked here
once for every route, login and signup included, rather than field by field in each schema.

A JSON body nested deeper than MAX_JSON_DEPTH is refused here too, before anything parses it: the
standard library's parser recurses per level and raised RecursionError on thousands of brackets,
which the start_charging route answered with a 500.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.db.storable_text import NUL, escape_unstorable, find_unstorable, unstorable_reason
from csms.json_depth import MAX_JSON_DEPTH, nests_deeper_than

_JSON_TYPES = (b"application/json", b"+json")


class StorableRequests:
    """Pure ASGI middleware: a request's path, query, headers and JSON body hold only storable text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _problem_outside_body(scope)
        if problem is None and _declares_json(scope):
            messages = await _read_body(receive)
            body = b"".join(message.get("body", b"") for message in messages)
            if nests_deeper_than(body.decode("utf-8", "replace"), MAX_JSON_DEPTH):
                await _too_deep()(scope, receive, send)
                return
            problem = _problem_in_body(body)
            receive = _replay(messages, receive)
        if problem is None:
            await self.app(scope, receive, send)
            return
        location, reason = problem
        await _refuse(location, reason)(scope, receive, send)


def _problem_outside_body(scope: Scope) -> tuple[list[str | int], str] | None:
    reason = unstorable_reason(scope["path"])
    if reason is not None:
        return ["path"], reason
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or NUL in query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            reason = unstorable_reason(name) or unstorable_reason(value)
            if reason is not None:
                return ["query", escape_unstorable(name)], reason
    for name, value in scope["headers"]:
        if NUL.encode() in value:
            return ["header", name.decode("latin-1")], "a NUL character"
    return None


def _declares_json(scope: Scope) -> bool:
    """A body FastAPI reads as JSON (never one without a content type: its strict default); an upload
    of another type streams on unread."""
    content_type: bytes | None = next((value for name, value in scope["headers"] if name == b"content-type"), None)
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type.endswith(_JSON_TYPES)


async def _read_body(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _problem_in_body(body: bytes) -> tuple[list[str | int], str] | None:
    # In ASCII, a decoded string gets a NUL or a lone surrogate only from a \u escape (JSON refuses a
    # raw NUL; FastAPI answers that as invalid JSON).
    if body.isascii() and b"\\u" not in body:
        return None
    try:
        # Strict UTF-8: json.loads of bytes would let surrogates encoded as bytes through (surrogatepass).
        decoded = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        return ["body", error.start], "bytes that are not UTF-8"
    except ValueError:
        return None  # not JSON: the route's own parsing says so
    found = find_unstorable(decoded)
    if found is None:
        return None
    path, reason = found
    return ["body", *_steps(path)], reason


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then goes on with the connection's own."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _refuse(location: list[str | int], reason: str) -> JSONResponse:
    """FastAPI's own 422 shape; the input is not echoed, since it is the text that cannot be sent on."""
    error: dict[str, Any] = {
        "type": "string_unstorable",
        "loc": location,
        "msg": f"contains {reason}, which cannot be stored",
    }
    return JSONResponse({"detail": [error]}, status_code=422)


def _too_deep() -> JSONResponse:
    """FastAPI's 422 shape for a body that is not valid JSON."""
    error = {"type": "json_invalid", "loc": ["body"], "msg": f"JSON nests deeper than {MAX_JSON_DEPTH} levels"}
    return JSONResponse({"detail": [error]}, status_code=422)


def _steps(path: str) -> list[str | int]:
    """`meterValue/0/value` as FastAPI spells a location: keys as strings, list indexes as numbers."""
    return [int(step) if step.isdigit() else step for step in path.split("/")] if path else []
