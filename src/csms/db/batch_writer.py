"""Group commit: writes from many chargers share one transaction, and each waits for its commit.

One commit per OCPP message caps a node at a few hundred messages a second; SQLite in particular
pays for every transaction. Handlers hand their rows to the writer and await it: the charger is
answered only once its data is committed, but a thousand chargers' rows ride in one commit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


Part = tuple[Executable, Rows]


@dataclass(slots=True)
class _Write:
    parts: tuple[Part, ...]
    done: asyncio.Future[None] | None = field(default=None)


class BatchWriter:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 2000) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Write | None] = asyncio.Queue()  # None: stop after what came before
        self._task: asyncio.Task[None] | None = None

    @property
    def dialect_name(self) -> str:
        return self._engine.dialect.name

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="batch-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write((), done))
        await done

    async def write(self, *parts: Part) -> None:
        """Queue (statement, rows) parts, committed together, and wait until they are.

        Each statement runs with executemany; parts of one call always share a transaction.
        """
        parts = tuple(part for part in parts if part[1])
        if not parts:
            return
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(parts, done))
        await done

    def write_soon(self, *parts: Part) -> None:
        """Queue parts without waiting: for bookkeeping whose loss on a crash costs nothing (last seen)."""
        parts = tuple(part for part in parts if part[1])
        if parts:
            self._queue.put_nowait(_Write(parts))

    async def _run(self) -> None:
        is_stopping = False
        while not is_stopping:
            batch: list[_Write] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= self._max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            is_stopping = item is None
            if batch:
                await self._write_batch(batch)

    async def _write_batch(self, batch: list[_Write]) -> None:
        try:
            async with self._engine.begin() as connection:
                await _execute_grouped(connection, batch)
        except Exception:
            # One bad write must not fail its neighbours: try each on its own.
            for write in batch:
                await self._write_alone(write)
            return
        for write in batch:
            _resolve(write, None)

    async def _write_alone(self, write: _Write) -> None:
        try:
            async with self._engine.begin() as connection:
                for statement, rows in write.parts:
                    await connection.execute(statement, rows)
        except Exception as error:
            if write.done is None:
                logger.warning("dropped a background write: %s", error)
            _resolve(write, error)
            return
        _resolve(write, None)


async def _execute_grouped(connection: AsyncConnection, batch: list[_Write]) -> None:
    """One executemany per statement, in the order statements first appear (inserts before updates)."""
    grouped: dict[int, tuple[Executable, Rows]] = {}
    for write in batch:
        for statement, rows in write.parts:
            grouped.setdefault(id(statement), (statement, []))[1].extend(rows)
    for statement, rows in grouped.values():
        await connection.execute(statement, rows)


def _resolve(write: _Write, error: Exception | None) -> None:
    if write.done is None or write.done.done():
        return
    if error is None:
        write.done.set_result(None)
    else:
        write.done.set_exception(error)
