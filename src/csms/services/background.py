"""Work that follows from a request or a charger's message but must not hold up the answer, and the loops that
run for as long as csms does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundTasks:
    """Tasks kept in a set, so none is garbage-collected mid-flight; failures are logged, never lost.

    At shutdown the work in flight gets a grace period to finish: a charge stopped moments before still has its
    cost frozen and its CDR queued, instead of waiting for a sweep on the next start. The loops are cancelled.
    """

    def __init__(self) -> None:
        self._work: set[asyncio.Task[Any]] = set()
        self._loops: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Work that ends by itself (queue a push, price a charge, send a call)."""
        return self._start(work, name, self._work)

    def run_until_stopped(self, loop: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """A loop for the life of the node (deliveries, sweeps, leases): cancelled at once on `close`."""
        return self._start(loop, name, self._loops)

    def _start(self, work: Coroutine[Any, Any, Any], name: str, kept_in: set[asyncio.Task[Any]]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        kept_in.add(task)
        task.add_done_callback(kept_in.discard)
        task.add_done_callback(_log_failure)
        return task

    async def wait(self) -> None:
        """Wait for the work running now, and what it spawns."""
        while self._work:
            await asyncio.gather(*list(self._work), return_exceptions=True)

    async def close(self, *, grace: float = 0.0) -> None:
        """Cancel the loops; give the work in flight (and what it spawns) up to `grace` seconds, then cancel it."""
        await _cancel(self._loops)
        deadline = asyncio.get_running_loop().time() + grace
        while self._work and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(list(self._work), timeout=left)
        await _cancel(self._work)


async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*list(tasks), return_exceptions=True)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=task.exception())
