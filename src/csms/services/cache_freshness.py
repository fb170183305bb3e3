"""How long a node's caches of what other nodes change may be stale: bounded, even when the bus fails.

A change through one node drops the copies on every other node through the bus, but the bus keeps
nothing for a node whose link is down (cut, or silently dropping traffic): that node would answer
from its copy for ever. So every cache of data any node may change (idTags, logins, tariffs,
webhooks) is also

- dropped whole when the bus comes back after an interruption (`forget_all`, on `Bus.on_reconnect`);
- dropped when its change counter in the database moved (db/change_counters.py), read by one small
  query every `check_interval` seconds in the background: a change made anywhere reaches this node
  within that interval even when its bus link never reports a failure;
- kept no longer than its own maximum age (CSMS_CACHE_MAX_AGE), in case the database is unreachable
  for those checks.

The hot paths (Authorize, StartTransaction) read no counter: they find a cache already dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.db.models import CacheVersion

logger = logging.getLogger(__name__)

Forget = Callable[[], None]

_READ_VERSIONS = select(CacheVersion.kind, CacheVersion.version)


class CacheFreshness:
    """Drops this node's caches whose change counter moved, and all of them after a bus interruption."""

    def __init__(self, engine: AsyncEngine, *, check_interval: float) -> None:
        self._engine = engine
        self._check_interval = check_interval
        self._forgets: dict[str, list[Forget]] = {}
        self._seen: dict[str, int] | None = None  # None: not read yet, so nothing is known to be current
        self._is_failing = False

    def follow(self, kind: str, forget: Forget) -> None:
        """Call `forget` whenever the caches of `kind` may be stale."""
        self._forgets.setdefault(kind, []).append(forget)

    def forget_all(self) -> None:
        """Drop every cache: after a bus interruption, announcements may have been missed."""
        for forgets in self._forgets.values():
            for forget in forgets:
                forget()

    async def check(self) -> None:
        """Read the counters once and drop the caches whose counter moved since the last read."""
        async with self._engine.connect() as connection:
            versions = {kind: int(version) for kind, version in (await connection.execute(_READ_VERSIONS)).all()}
        seen, self._seen = self._seen, versions
        if seen is None:
            # Whatever was read before the first check may predate a change: start from nothing.
            self.forget_all()
            return
        for kind, version in versions.items():
            if seen.get(kind) != version:
                for forget in self._forgets.get(kind, ()):
                    forget()

    async def run(self) -> None:
        """Check every `check_interval` seconds, for as long as the node runs."""
        while True:
            try:
                await self.check()
            except (SQLAlchemyError, OSError) as error:
                # The caches' own maximum age bounds what a node answers meanwhile.
                if not self._is_failing:
                    logger.warning("could not read the cache change counters: %s", type(error).__name__)
                self._is_failing = True
            else:
                self._is_failing = False
            await asyncio.sleep(self._check_interval)
