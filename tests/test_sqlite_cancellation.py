"""On SQLite, a task cancelled in the middle of a write leaves the database free for every other writer.

A node cancels tasks mid-write whenever it stops (webhook workers, charger sessions) and whenever a
charger's connection drops during its handler. SQLAlchemy then closes that connection without a
rollback, and SQLite keeps a closed connection's transaction, and its write lock, for as long as the
cancelled task's traceback keeps a statement alive. Every other write, the cancelled task's own
cleanup included, then waits out the busy timeout and fails.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from csms.db.engine import create_engine

# Counts to three million, one row at a time, and yields a first row only at the end.
SLOW_QUERY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT max(i) FROM n"


def write_lock_is_free(database: Path, *, within: float) -> bool:
    """Whether another connection gets the write lock within `within` seconds."""
    probe = sqlite3.connect(database, timeout=within, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked"
        return False
    finally:
        probe.close()


async def test_a_transaction_cancelled_mid_statement_lets_go_of_the_write_lock(tmp_path: Path) -> None:
    database = tmp_path / "csms.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
            await connection.execute(text("INSERT INTO counters VALUES (1, 0)"))
        sessions = async_sessionmaker(engine)
        reading = asyncio.Event()

        async def write_then_read_slowly() -> None:
            async with sessions() as session:
                await session.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))  # takes the lock
                reading.set()
                await session.execute(text(SLOW_QUERY))  # about a second on the connection's thread
                await session.commit()

        writer = asyncio.create_task(write_then_read_slowly())
        await reading.wait()
        await asyncio.sleep(0.1)  # the query reaches the connection's thread in far less
        writer.cancel()
        with pytest.raises(asyncio.CancelledError) as cancelled:
            await writer

        # `cancelled` keeps the traceback, and with it the cancelled statement, alive, as a task's
        # error handling or a log record does.
        assert cancelled.value is not None
        assert await asyncio.to_thread(write_lock_is_free, database, within=10)  # the query ends first
        async with sessions() as session:  # and the pool's connections still write
            await session.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
            await session.commit()
            assert await session.scalar(text("SELECT n FROM counters")) == 1  # the cancelled one rolled back
    finally:
        await engine.dispose()
