"""The BatchWriter's way to a SQLite file: a synchronous connection in a worker thread of its own.

Through aiosqlite every DB-API call (cursor, execute, close, commit) is a round trip to aiosqlite's
thread and back through the event loop, a dozen per batch, and between two of them the loop serves
other chargers while the batch, and every charger waiting on it, waits. Here a whole batch is one
trip: the thread runs the transaction from BEGIN to COMMIT while the loop goes on, and a small
batch costs the writer far less CPU than the same batch through aiosqlite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.db.engine import set_sqlite_pragmas

Part = tuple[Executable, list[dict[str, Any]]]

# Rows per multi-row INSERT. Each row count is a statement SQLite prepares once and keeps in the
# connection's statement cache: with pages of 50, a batch is full pages plus one shorter one, so there
# are at most 50 forms per table and the cache (256) keeps them all. Much larger pages would make a
# new statement for nearly every batch size, prepared again and again and flooding the cache; smaller
# ones would cost more executions per row.
_ROWS_PER_INSERT = 50


class SqliteWriterThread:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csms-sqlite-writer")

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteWriterThread | None:
        """A writer thread on the same file as `engine`; None for other databases, or SQLite in memory
        (a second connection would open a database of its own)."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        synchronous = create_sync_engine(
            url.set(drivername="sqlite"),
            pool_size=1,
            max_overflow=0,
            insertmanyvalues_page_size=_ROWS_PER_INSERT,
            connect_args={"cached_statements": 256},
        )
        # An INSERT's rows as multi-row statements (SQLAlchemy's "insertmanyvalues"), not one execution
        # per row: Python's sqlite3 lets go of the interpreter lock around each execution, and while the
        # event loop is busy, getting it back can take up to the 5 ms switch interval, per row.
        synchronous.dialect.use_insertmanyvalues_wo_returning = True
        event.listen(synchronous, "connect", set_sqlite_pragmas)
        return cls(synchronous)

    @property
    def engine(self) -> Engine:
        return self._engine

    async def commit(self, parts: Sequence[Part]) -> None:
        """Execute each (statement, rows) part with executemany in one transaction, and commit it."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._commit, parts)

    def _commit(self, parts: Sequence[Part]) -> None:
        with self._engine.begin() as connection:
            for statement, rows in parts:
                connection.execute(statement, rows)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)
