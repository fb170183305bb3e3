"""The async engine and session factory, tuned per backend."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from csms.config import Settings

# Its listeners raise the cache change counters in every session's commits.
from csms.db import change_counters  # noqa: F401

logger = logging.getLogger(__name__)

# Pages of write-ahead log after which a commit checkpoints by itself: only a safety net, since
# `checkpoint_sqlite_periodically` keeps the log far shorter than this.
_SQLITE_AUTOCHECKPOINT_PAGES = 100_000


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """Seconds csms waits on PostgreSQL, so a database that stops answering (packets dropped, no reset)
    fails like one that refuses: each wait ends in a TimeoutError, and callers treat it as unreachable.

    `connect` bounds opening a connection (TCP and the startup handshake); `command` each statement,
    ping, commit and rollback on the client (and, twice as long, the server's `statement_timeout`);
    `pool` waiting for a free pooled connection; `idle_in_transaction` how long the server keeps a
    transaction whose client went silent (the server's `idle_in_transaction_session_timeout`), so its
    locks do not outlive a partition. None: no limit. SQLite keeps its own bound on waits, the 5 s
    busy timeout of its lock.
    """

    connect: float = 5.0
    command: float | None = 10.0
    pool: float = 10.0
    idle_in_transaction: float | None = 60.0

    @classmethod
    def of(cls, settings: Settings) -> DatabaseTimeouts:
        return cls(
            connect=settings.database_connect_timeout,
            command=settings.database_command_timeout or None,
            pool=settings.database_pool_timeout,
            idle_in_transaction=settings.database_idle_in_transaction_timeout or None,
        )

    def for_migrations(self) -> DatabaseTimeouts:
        """No limit on statements or transactions: a long migration (an index on a big table) must finish."""
        return replace(self, command=None, idle_in_transaction=None)

    def asyncpg_connect_args(self) -> dict[str, Any]:
        # The client gives up first (a TimeoutError, which callers take for "unreachable") and asks the
        # server to cancel; the server's own limit, twice as long, ends statements whose client is gone.
        server_settings = {
            "statement_timeout": _milliseconds(2 * self.command if self.command else None),
            "idle_in_transaction_session_timeout": _milliseconds(self.idle_in_transaction),
        }
        return {"timeout": self.connect, "command_timeout": self.command, "server_settings": server_settings}


def _milliseconds(seconds: float | None) -> str:
    return str(round(seconds * 1000)) if seconds else "0"  # PostgreSQL: 0 is no limit


def create_engine(database_url: str, timeouts: DatabaseTimeouts | None = None) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        return _create_sqlite_engine(database_url)
    timeouts = timeouts or DatabaseTimeouts()
    connect_args = timeouts.asyncpg_connect_args() if "+asyncpg" in database_url else {}
    engine = create_async_engine(
        database_url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=timeouts.pool,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _discard_silent_connection)
    return engine


def _discard_silent_connection(context: ExceptionContext) -> None:
    """A connection whose statement timed out is thrown away, as a reset one is: its server may still be
    running the statement, and a rollback on it would only wait out another timeout (a silent partition
    answers nothing), in the request's teardown or when the pool takes it back."""
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True


def create_migration_engine(database_url: str, timeouts: DatabaseTimeouts | None = None) -> AsyncEngine:
    """An engine for migrating, without the statement limits of the application's own."""
    return create_engine(database_url, (timeouts or DatabaseTimeouts()).for_migrations())


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    # WAL lets readers run beside the one writer. Most writes go through the BatchWriter's single
    # transaction stream; the few others (boot, account changes) wait their turn via busy_timeout.
    # pysqlite begins a transaction only at the first write, so a read never holds a stale snapshot
    # that a later write in the same session would have to upgrade.
    engine = create_async_engine(database_url, pool_size=4, max_overflow=0, pool_timeout=60)
    event.listen(engine.sync_engine, "connect", set_sqlite_pragmas)
    event.listen(engine.sync_engine, "invalidate", roll_back_before_closing)
    return engine


def roll_back_before_closing(dbapi_connection: Any, _record: Any, _error: BaseException | None) -> None:
    """End the transaction of a SQLite connection the pool gives up on (a SQLAlchemy "invalidate" listener).

    SQLAlchemy gives up on a connection whose statement or reset was cancelled (a task cancelled
    mid-write) and closes it without a rollback. SQLite closes a connection only once its last
    statement is freed, and the cancelled task's traceback keeps that statement alive: until then
    the half-done transaction keeps the database's write lock, and every other writer, this task's
    own cleanup included, waits out its busy timeout. A rollback first lets go of the lock at once.
    The rollback queues behind the cancelled statement on the connection's thread, so it ends
    whatever that statement began.
    """
    try:
        dbapi_connection.rollback()
    except Exception:  # the connection is closing anyway; a rollback that fails leaves nothing worse
        logger.debug("rollback before closing an invalidated SQLite connection failed", exc_info=True)


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
