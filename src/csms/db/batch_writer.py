"""Group commit: writes from many chargers share one transaction, and each waits for its commit.

One commit per OCPP message caps a node at a few hundred messages a second; SQLite in particular
pays for every transaction. Handlers hand their rows to the writer and await it: the charger is
answered only once its data is committed, but a thousand chargers' rows ride in one commit.

A batch the database refuses for its data (a constraint, a value it cannot store) is taken apart
until the write at fault fails alone: its waiter gets the error, every other write is committed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Executable
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.db.database_file import DatabaseFile, DatabaseFileReplaced
from csms.db.sqlite_thread import Part, SqliteWriterThread
from csms.db.write_journal import WriteJournal

logger = logging.getLogger(__name__)

# Failures that mean "the database cannot be reached now", not "this data is wrong". TimeoutError (an
# OSError too) is a database that stopped answering: the driver's connect or statement timeout
# (DatabaseTimeouts in engine.py), so a silent partition is held like a refusal.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout, ConnectionError, TimeoutError, OSError)
# Any failure of a database call, for loops that must outlive it (webhook deliveries, live streams): what
# SQLAlchemy raises, and what the driver raises past it (a TimeoutError when the database stops answering).
DATABASE_ERRORS = (SQLAlchemyError, *DATABASE_UNREACHABLE)


@dataclass(slots=True)
class _Write:
    parts: tuple[Part, ...]
    done: asyncio.Future[None] | None = field(default=None)
    # Committed or refused while its batch was taken apart (`_isolate`): not to be held for a retry.
    is_settled: bool = False
    # The batch it was taken in (`_grouped`): writes of one batch share statements, batches keep their order.
    batch: int = 0


class BatchWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 2000,
        max_held_rows: int = 500_000,
        retry_after: float = 1.0,
        on_refused: Callable[[str], None] = lambda _table: None,
        journal: WriteJournal | None = None,
        database_file: DatabaseFile | None = None,
    ) -> None:
        self._engine = engine
        # Told the table of each write the database refuses (a metric staff can watch).
        self._on_refused = on_refused
        # Held writes go to this file before anyone is answered, and come back from it at start.
        self._journal = journal
        # On SQLite, the file opened at start: a batch for a file replaced since is held, not written.
        self._database_file = database_file
        # On a SQLite file the batches run in a thread of their own, one trip per batch (sqlite_thread.py).
        self._sqlite_thread = SqliteWriterThread.for_engine(engine)
        if self._sqlite_thread is not None and database_file is not None:
            database_file.guard(self._sqlite_thread.engine)
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Write | None] = asyncio.Queue()  # None: stop after what came before
        self._task: asyncio.Task[None] | None = None
        # Writes accepted while the database was unreachable, oldest first, written before anything newer.
        self._held: list[_Write] = []
        self._batches = 0  # batches taken so far, to number each write's batch
        self._journaled = 0  # held writes in the journal
        self._max_held_rows = max_held_rows
        self._retry_after = retry_after
        # When the last attempt to write held writes failed, and why: until retry_after has passed, new
        # writes are held at once instead of each waiting out a database that may answer nothing.
        self._failed_at = 0.0
        self._failure: Exception | None = None
        # Held while a transaction of this writer runs (`transaction()`): batches and others take turns.
        self._turn = asyncio.Lock()
        # Parts of `write_soon`, joined to the next batch; a single marker in the queue wakes the writer.
        self._soon: list[Part] = []
        self._soon_is_signalled = False

    @property
    def is_holding(self) -> bool:
        """True while the database is unreachable and accepted writes wait in memory."""
        return bool(self._held)

    @property
    def dialect_name(self) -> str:
        return self._engine.dialect.name

    def start(self) -> None:
        """Start writing; a journal's batches, held by a node that stopped during an outage, go first."""
        if self._journal is not None and not self._journal.is_open:
            batches = self._journal.open()
            for batch in batches:
                number = self._next_batch()
                self._held.extend(_Write(parts, batch=number) for parts in batch)
            self._journaled = len(self._held)
            if batches:
                logger.warning("writing %d held batches from the journal %s", len(batches), self._journal.path)
        self._task = asyncio.create_task(self._run(), name="batch-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None
        if self._sqlite_thread is not None:
            await self._sqlite_thread.close()
        if self._journal is not None:
            self._journal.close()

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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of this writer, committed on leaving the block; one at a time.

        For a small write that needs its result at once (reserving ids), between two batches: they
        take the same turn (`_commit`). On SQLite one connection at a time may write, and a second
        writer waits for the lock in the database's busy handler, which sleeps in steps of up to 100 ms
        while the writer's batches follow each other; taking turns here never waits longer than the
        batch under way.
        """
        async with self._turn, self._engine.begin() as connection:
            yield connection

    async def _commit(self, parts: list[Part]) -> None:
        """Execute each part with executemany in one transaction of this writer, and commit it."""
        if self._database_file is not None:
            self._database_file.check()
        if self._sqlite_thread is not None:
            async with self._turn:
                await self._sqlite_thread.commit(parts)
            return
        async with self.transaction() as connection:
            for statement, rows in parts:
                await connection.execute(statement, rows)

    def write_soon(self, *parts: Part) -> None:
        """Add parts to the next batch without waiting: for what no one waits on (last seen, message log).

        Called for every frame a node sees, so it only appends; the queue gets one marker per batch.
        Each part stands alone: one the database refuses is logged and counted, the others are kept.
        """
        self._soon.extend(part for part in parts if part[1])
        if self._soon and not self._soon_is_signalled:
            self._soon_is_signalled = True
            self._queue.put_nowait(_Write(()))

    def _take_soon(self, batch: list[_Write]) -> None:
        if self._soon:
            batch.append(_Write(tuple(self._soon)))
            self._soon = []
        self._soon_is_signalled = False

    async def _run(self) -> None:
        is_stopping = False
        while not is_stopping:
            batch: list[_Write] = []
            item = await self._next_or_retry()
            while item is not None:
                batch.append(item)
                if len(batch) >= self._max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            is_stopping = item is None
            self._take_soon(batch)
            number = self._next_batch()
            for write in batch:
                write.batch = number
            if any(write.parts or write.done for write in batch) or self._held:
                await self._write_batch(batch)
        if self._held and self._is_journaled(self._held):
            logger.error("stopping with the database unreachable: held writes stay in %s", self._journal_path)
        elif self._held:
            logger.error("stopping with the database unreachable: %d held writes are lost", len(self._held))

    def _next_batch(self) -> int:
        self._batches += 1
        return self._batches

    async def _next_or_retry(self) -> _Write | None:
        """The next queued write; while writes are held, wake up now and then to retry them."""
        if not self._held:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), self._retry_after)
        except TimeoutError:
            return _Write(())  # nothing new: just retry what is held

    async def _write_batch(self, batch: list[_Write]) -> None:
        pending = [*self._held, *batch]
        if self._held and self._failure is not None and not self._is_retry_due():
            await self._hold(pending, batch, self._failure)
            return
        try:
            await self._commit(_grouped(pending))
        except DATABASE_UNREACHABLE as error:
            self._failed(error)
            await self._hold(pending, batch, error)
            return
        except Exception as error:  # whatever one write's data did (any error), its neighbours are kept
            await self._write_apart(pending, batch, error)
            return
        if self._held:
            logger.warning("database reachable again: wrote %d held writes", len(self._held))
            self._held = []
            await self._forget_journal()
        for write in pending:
            _resolve(write, None)

    def _failed(self, error: Exception) -> None:
        self._failed_at = asyncio.get_running_loop().time()
        self._failure = error

    def _is_retry_due(self) -> bool:
        """A database that hangs costs every attempt a timeout: retry held writes once per retry_after."""
        return asyncio.get_running_loop().time() - self._failed_at >= self._retry_after

    async def _write_apart(self, pending: list[_Write], batch: list[_Write], error: Exception) -> None:
        """Find the writes at fault in a batch the database refused, and commit all the others."""
        self._held = []
        writes = _separable(pending)
        try:
            await self._isolate(writes, error)
        except DATABASE_UNREACHABLE as unreachable:
            # The database went away while the batch was taken apart: hold what is not settled yet.
            self._failed(unreachable)
            await self._hold([write for write in writes if not write.is_settled], batch, unreachable)
            return
        await self._forget_journal()

    async def _isolate(self, writes: list[_Write], error: Exception) -> None:
        """Commit the halves of writes that failed together, down to each write that fails alone.

        One bad write among n costs about 2·log2(n) transactions, not n; the halves are committed
        in order, so a later write of a charger never lands before an earlier one.
        """
        if len(writes) == 1:
            self._refuse(writes[0], error)
            return
        middle = len(writes) // 2
        for half in (writes[:middle], writes[middle:]):
            try:
                await self._commit(_grouped(half))
            except DATABASE_UNREACHABLE:
                raise
            except Exception as half_error:
                await self._isolate(half, half_error)
                continue
            for write in half:
                write.is_settled = True
                _resolve(write, None)

    def _refuse(self, write: _Write, error: Exception) -> None:
        """A write the database refuses on its own: its waiter gets the error, and the refusal is counted
        and logged, so a background write (message log, audit) is never dropped unseen."""
        tables = sorted({_table_of(statement) for statement, _rows in write.parts})
        reason = str(error).split("\n", 1)[0][:300]
        logger.error(
            "the database refused a %s write to %s (%s: %s); the rest of its batch is kept",
            "background" if write.done is None else "waited-for",
            ", ".join(tables),
            type(error).__name__,
            reason,
        )
        for table in tables:
            self._on_refused(table)
        write.is_settled = True
        _resolve(write, error)

    async def _hold(self, pending: list[_Write], batch: list[_Write], error: Exception) -> None:
        """Keep writes while the database is away, and answer their waiters: in the journal, fsynced first,
        they outlive this node. Past the limit, or if the journal cannot take them, new writes fail instead."""
        if not self._held:
            log = logger.error if isinstance(error, DatabaseFileReplaced) else logger.warning
            log("database unreachable (%s: %s); holding writes until it returns", type(error).__name__, error)
        fresh = {write.batch for write in batch}  # the batch just taken; the others were held before
        held = [write for write in pending if write.batch not in fresh]
        accepted = [write for write in pending if write.batch in fresh and write.parts]
        held_rows = sum(len(rows) for write in [*held, *accepted] for _statement, rows in write.parts)
        failure: Exception | None = error if held_rows > self._max_held_rows else None
        if len(held) < self._journaled:  # some reached the database on the way: journal only the rest
            await self._rewrite_journal(held)
        if accepted and failure is None:
            failure = await self._journal_batch(accepted)
        self._held = held if failure is not None else [*held, *accepted]
        for write in batch:
            _resolve(write, failure if write.parts else None)

    async def _journal_batch(self, batch: list[_Write]) -> Exception | None:
        """Append a held batch to the journal; the error if it cannot be kept there."""
        if self._journal is None or not self._journal.is_open:
            return None  # no journal (a database in memory): held in memory only
        if not self._is_journaled(batch):
            logger.error("a write of an unregistered statement cannot be journaled; it is held in memory only")
            return None
        try:
            await self._journal.append([write.parts for write in batch])
        except (OSError, TypeError, ValueError) as error:
            logger.error("could not journal held writes (%s); refusing them", error)
            return error
        self._journaled += len(batch)
        return None

    async def _rewrite_journal(self, held: list[_Write]) -> None:
        if self._journal is None or not self._journal.is_open:
            return
        journaled = [write for write in held if WriteJournal.can_hold(write.parts)]
        batches = [[write.parts for write in writes] for _, writes in itertools.groupby(journaled, lambda w: w.batch)]
        try:
            await self._journal.rewrite(batches)
        except (OSError, TypeError, ValueError) as error:
            logger.error("could not rewrite the held-writes journal %s (%s)", self._journal.path, error)
            return
        self._journaled = len(journaled)

    def _is_journaled(self, writes: list[_Write]) -> bool:
        return self._journal is not None and all(WriteJournal.can_hold(write.parts) for write in writes)

    @property
    def _journal_path(self) -> str:
        return str(self._journal.path) if self._journal is not None else "memory"

    async def _forget_journal(self) -> None:
        """The database has the held writes: empty the journal, so the next start does not repeat them."""
        if self._journal is None or not self._journal.is_open:
            return
        self._journaled = 0
        try:
            await self._journal.clear()
        except OSError as error:
            logger.error("could not empty the held-writes journal %s (%s)", self._journal.path, error)


def _grouped(writes: list[_Write]) -> list[Part]:
    """One part per statement and batch, in the order statements first appear (inserts before updates).

    Writes of one batch never depend on each other (each waiter was answered before it sent more), but
    held writes span batches: a StopTransaction's UPDATE answered after the StartTransaction's INSERT
    must not run before it, so each batch keeps its own groups, in the order the batches were taken.
    """
    parts: list[Part] = []
    grouped: dict[int, Part] = {}
    batch: int | None = None
    for write in writes:
        if write.batch != batch:
            parts.extend(grouped.values())
            grouped, batch = {}, write.batch
        for statement, rows in write.parts:
            grouped.setdefault(id(statement), (statement, []))[1].extend(rows)
    parts.extend(grouped.values())
    return parts


def _separable(writes: list[_Write]) -> list[_Write]:
    """The writes that may fail apart: each waited-for write whole, each part of `write_soon` on its own."""
    separable: list[_Write] = []
    for write in writes:
        if write.done is None and len(write.parts) > 1:
            separable.extend(_Write((part,), batch=write.batch) for part in write.parts)
        else:
            separable.append(write)
    return separable


def _table_of(statement: Executable) -> str:
    table = getattr(statement, "table", None)
    return str(getattr(table, "name", None) or type(statement).__name__)


def _resolve(write: _Write, error: Exception | None) -> None:
    if write.done is None or write.done.done():
        return
    if error is None:
        write.done.set_result(None)
    else:
        write.done.set_exception(error)
