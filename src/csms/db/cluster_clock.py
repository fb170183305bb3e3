"""The clock every node of a cluster agrees on: the database's.

A deadline that crosses the bus is an absolute time, and an absolute time read off one node's clock
means nothing to a node whose clock is 90 s off: it would run a command long expired, or drop one
still fresh. So deadlines are written in the database's clock, which all nodes share. Each node
measures its offset from it (`SELECT clock_timestamp()` on PostgreSQL, the local clock's error being
half the query's round trip at most) at start and then every `interval` seconds, and reads the shared
time as its own clock plus that offset. Two nodes then disagree by at most the sum of their
measurement errors plus the drift of their clocks between two measurements: milliseconds, against
call timeouts of seconds. On SQLite every node runs on the machine holding the file, so the local
clock is already shared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

_DATABASE_EPOCH = text("SELECT extract(epoch from clock_timestamp())")
# A measurement whose query took longer than this says little about the offset: the old one is kept.
_MAX_ROUND_TRIP = 1.0


class ClusterClock:
    """Seconds since the epoch in the database's clock, read without a query."""

    def __init__(self, engine: AsyncEngine, *, local_clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self.local_clock = local_clock  # this node's own clock (a test may skew it)
        self.offset = 0.0  # database clock minus this node's clock, in seconds

    def now(self) -> float:
        return self.local_clock() + self.offset

    async def measure(self) -> None:
        """Learn this node's offset from the database clock; a failed or slow measurement keeps the last one."""
        if self._engine.dialect.name == "sqlite":
            return
        try:
            async with asyncio.timeout(5), self._engine.connect() as connection:
                before = self.local_clock()
                database_time = float((await connection.execute(_DATABASE_EPOCH)).scalar_one())
                after = self.local_clock()
        except Exception as error:
            logger.warning("could not read the database clock: %s", type(error).__name__)
            return
        if after - before <= _MAX_ROUND_TRIP:
            self.offset = database_time - (before + after) / 2

    async def run_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.measure()
