"""One caller's live view: the events they may see, for as long as their login holds.

A stream is authorised once, by the access token it opens with, and then lives far longer than a
request. So it follows its login: every change announced for it (logout, refresh-token reuse,
blocking, a role change, deletion; on this node or, over the bus, on another) makes the stream
re-read the account at once, and every keep-alive re-reads it too (from the login cache while that
is fresh), in case an announcement was lost. A login that has ended ends the stream; a changed
role changes what it shows from the next event on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from csms.bus import Message, Subscription
from csms.db.batch_writer import DATABASE_ERRORS
from csms.services.accounts import AuthenticationFailed
from csms.services.charging import STAFF_ROLES
from csms.services.login_cache import LoginCache, Principal

logger = logging.getLogger(__name__)

Recheck = Callable[[Principal], Awaitable[Principal]]


def may_see(user: Principal, message: Message | dict[str, Any]) -> bool:
    """Staff see every charger; other accounts only the events of their own transactions."""
    if user.role in STAFF_ROLES:
        return True
    return message.get("user_id") is not None and message.get("user_id") == user.id


class LiveStream:
    """Yields the events `principal` may see, and None for a keep-alive after `keepalive` idle seconds.

    Ends when the subscription does or when the login no longer holds; `ended` then says why.
    """

    def __init__(
        self,
        subscription: Subscription,
        principal: Principal,
        *,
        logins: LoginCache,
        recheck: Recheck,
        keepalive: float,
    ) -> None:
        self._subscription = subscription
        self.principal = principal
        self._logins = logins
        self._recheck = recheck
        self._keepalive = keepalive
        self._login_changed = asyncio.Event()
        self.ended: str | None = None

    async def follow(self) -> AsyncIterator[Message | None]:
        unwatch = self._logins.watch(self._notice)
        events = aiter(self._subscription)
        # The next event is awaited by a task of its own that outlives keep-alive timeouts: cancelling
        # the wait for it would close the subscription's iterator and end the stream.
        next_event: asyncio.Future[tuple[str, Message]] = asyncio.ensure_future(anext(events))
        login_changed = asyncio.ensure_future(self._login_changed.wait())
        try:
            while True:
                waiting: set[asyncio.Future[Any]] = {next_event, login_changed}
                done, _ = await asyncio.wait(waiting, timeout=self._keepalive, return_when=asyncio.FIRST_COMPLETED)
                if login_changed in done:
                    login_changed = asyncio.ensure_future(self._login_changed.wait())
                    if not await self._login_holds():
                        return
                elif not done and not await self._login_holds():  # idle: check anyway
                    return
                if next_event not in done:
                    if not done:
                        yield None
                    continue
                try:
                    _subject, message = next_event.result()
                except StopAsyncIteration:
                    return
                next_event = asyncio.ensure_future(anext(events))
                if may_see(self.principal, message):
                    yield message
        finally:
            unwatch()
            next_event.cancel()
            login_changed.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_event
            await self._subscription.close()

    def _notice(self, change: Message) -> None:
        if (
            change.get("every_login")
            or change.get("session_id") == self.principal.session_id
            or change.get("user_id") == self.principal.id
        ):
            self._login_changed.set()

    async def _login_holds(self) -> bool:
        self._login_changed.clear()
        try:
            self.principal = await self._recheck(self.principal)
        except AuthenticationFailed as refusal:
            self.ended = str(refusal)
            return False
        except DATABASE_ERRORS:
            # Fail closed: a stream whose login cannot be checked ends; the client reconnects.
            logger.warning("could not re-check the login of a live stream", exc_info=True)
            self.ended = "the login could not be checked; reconnect"
            return False
        return True
