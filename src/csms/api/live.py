"""Live events as server-sent events: the dashboard sees every charger, a driver their own charging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from csms.api.deps import CurrentUser, RuntimeDep
from csms.api.schemas import ErrorBody
from csms.bus import Message
from csms.bus.events import EVENTS_PATTERN
from csms.services.charging import STAFF_ROLES
from csms.services.login_cache import Principal

router = APIRouter(prefix="/api", tags=["live"])

KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "One `event: KIND` / `data: JSON` block per event"},
        401: {"model": ErrorBody, "description": "Not logged in"},
    },
)
async def live_events(request: Request, user: CurrentUser, runtime: RuntimeDep) -> StreamingResponse:
    """Server-sent events: connector status, meter values, transactions, firmware and diagnostics progress.

    Admins see every charger; other accounts see only events of their own transactions.
    """
    subscription = await runtime.bus.subscribe(EVENTS_PATTERN)

    async def stream() -> AsyncIterator[str]:
        yield ": connected\n\n"
        events = aiter(subscription)
        try:
            while not await request.is_disconnected():
                try:
                    _subject, message = await asyncio.wait_for(anext(events), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if may_see(user, message):
                    yield f"event: {message.get('kind', 'message')}\ndata: {json.dumps(message, default=str)}\n\n"
        finally:
            await subscription.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def may_see(user: Principal, message: Message | dict[str, Any]) -> bool:
    if user.role in STAFF_ROLES:
        return True
    return message.get("user_id") is not None and message.get("user_id") == user.id
