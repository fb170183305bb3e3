"""The async engine and session factory, tuned per backend."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

logger = logging.getLogger(__name__)

# Pages of write-ahead log after which a commit checkpoints by itself: only a safety net, since
# `checkpoint_sqlite_periodically` keeps the log far shorter than this.
_SQLITE_AUTOCHECKPOINT_PAGES = 100_000


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        return _create_sqlite_engine(database_url)
    return create_async_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    # WAL lets readers run beside the one writer. Most writes go through the BatchWriter's single
    # transaction stream; the few others (boot, account changes) wait their turn via busy_timeout.
    # pysqlite begins a transaction only at the first write, so a read never holds a stale snapshot
    # that a later write in the same session would have to upgrade.
    engine = create_async_engine(database_url, pool_size=4, max_overflow=0, pool_timeout=60)
    event.listen(engine.sync_engine, "connect", set_sqlite_pragmas)
    return engine


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The settings of every SQLite connection csms opens (a SQLAlchemy "connect" event listener)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # A larger page cache and temporary tables in memory: fewer reads of the file under load.
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA wal_autocheckpoint={_SQLITE_AUTOCHECKPOINT_PAGES}")
    cursor.close()


async def checkpoint_sqlite_periodically(engine: AsyncEngine, *, interval: float = 0.5) -> None:
    """Copy SQLite's write-ahead log into the database file every `interval` seconds, beside the writes.

    Left to itself SQLite checkpoints inside the commit that fills the log, and that commit, with every
    charger's answer waiting on it, becomes a long one, often under load. A PASSIVE checkpoint
    from another connection never blocks writers or readers; it copies what no reader still needs.
    """
    is_failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # a busy or missing database: the next round tries again
            if not is_failing:  # once per run of failures, not twice a second
                logger.warning("SQLite checkpoint failed", exc_info=True)
            is_failing = True
        else:
            is_failing = False


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
