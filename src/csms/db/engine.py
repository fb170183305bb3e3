"""The async engine and session factory, tuned per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


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

    @event.listens_for(engine.sync_engine, "connect")
    def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # Under load these gave ~10 % more OCPP messages/s (docs/benchmarks.md): a larger page cache, WAL
        # checkpoints every ~32 MB instead of every 4 MB, temporary tables in memory.
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.execute("PRAGMA wal_autocheckpoint=8000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
