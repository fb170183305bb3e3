"""Live events as server-sent events: the dashboard sees every charger, a driver their own charging."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from csms.api.deps import CurrentUser, RuntimeDep
from csms.api.schemas import ErrorBody
from csms.bus.events import EVENTS_PATTERN
from csms.runtime import Runtime
from csms.services import accounts
from csms.services.live_stream import LiveStream
from csms.services.login_cache import Principal

router = APIRouter(prefix="/api", tags=["live"])


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "One `event: KIND` / `data: JSON` block per event"},
        401: {"model": ErrorBody, "description": "Not logged in"},
    },
)
async def live_events(user: CurrentUser, runtime: RuntimeDep) -> StreamingResponse:
    """Server-sent events: connector status, meter values, transactions, firmware and diagnostics progress.

    Admins see every charger; other accounts see only events of their own transactions. The stream
    follows the login: logging out, blocking or deleting the account ends it (a last `stream_ended`
    event says why), a role change applies from the next event on. Idle streams get a `: keep-alive`
    comment every CSMS_LIVE_KEEPALIVE_INTERVAL seconds.
    """
    stream = LiveStream(
        await runtime.bus.subscribe(EVENTS_PATTERN),
        user,
        logins=runtime.logins,
        recheck=lambda principal: _recheck(runtime, principal),
        keepalive=runtime.settings.live_keepalive_interval,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_server_sent(stream), media_type="text/event-stream", headers=headers)


async def _recheck(runtime: Runtime, principal: Principal) -> Principal:
    return await accounts.current_login(
        runtime.session_factory, principal.id, principal.session_id, now=runtime.clock(), cache=runtime.logins
    )


async def _server_sent(stream: LiveStream) -> AsyncIterator[str]:
    yield ": connected\n\n"
    async for message in stream.follow():
        if message is None:
            yield ": keep-alive\n\n"
        else:
            yield f"event: {message.get('kind', 'message')}\ndata: {json.dumps(message, default=str)}\n\n"
    if stream.ended is not None:
        yield f"event: stream_ended\ndata: {json.dumps({'reason': stream.ended})}\n\n"
