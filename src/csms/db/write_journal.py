"""Writes held during a database outage, kept in a local append-only file until the database has them.

The BatchWriter answers chargers while the database is away and keeps their writes until it returns
(batch_writer.py). In memory alone they die with the node; here each held batch is appended and
fsynced before anyone is answered, and a node that starts finds them and writes them first.

A record is one line: the CRC-32 of its JSON, a space, the JSON, a newline. A crash mid-append leaves a
torn last line (no newline, or a CRC that does not match): reading stops there and ignores it, since
nobody was answered for a record that was not yet fully on disk.

Statements are not serialised: each is journaled under a name it is registered with (`journaled`), and
the same code finds it again by that name at the next start.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import logging
import os
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import BindParameter, ClauseElement, Executable
from sqlalchemy.sql import visitors

from csms.db.sqlite_thread import Part

logger = logging.getLogger(__name__)

Statement = TypeVar("Statement", bound=Executable)

_STATEMENTS: dict[str, Executable] = {}
_NAMES: dict[int, str] = {}


class JournalUnusable(RuntimeError):
    """The journal cannot be opened: other nodes hold every one, or it names a statement this code lacks."""


def journaled(name: str, statement: Statement) -> Statement:
    """Register `statement` under `name`, so writes using it can be held on disk during an outage.

    The batch writer runs a statement once for many rows (executemany), which an IN list of values
    (`column.in_((a, b))`, an "expanding" parameter) cannot do: a batch holding two such writes would
    fail whole and be taken apart write by write, silently costing a transaction per write. Such a
    statement is refused here, when its module is imported, rather than slowing every batch.
    """
    if isinstance(statement, ClauseElement) and _has_in_list_of_values(statement):
        raise ValueError(f"{name!r} compares with an IN list of values, which executemany cannot run; use = ... OR")
    if _STATEMENTS.setdefault(name, statement) is not statement:
        raise ValueError(f"a different statement is already journaled as {name!r}")
    _NAMES[id(statement)] = name
    return statement


def _has_in_list_of_values(statement: ClauseElement) -> bool:
    return any(isinstance(element, BindParameter) and element.expanding for element in visitors.iterate(statement))


# Nodes sharing a directory each take the first journal no other running node holds: `held-writes`,
# then `held-writes.1`, ... A node that starts takes over the journal of one that stopped.
_MAX_NODES_PER_DIRECTORY = 64


class WriteJournal:
    """One node's journal file; the node holds an exclusive lock on it while it runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def open(self) -> list[list[tuple[Part, ...]]]:
        """Lock the first free journal at the path (creating it) and give the batches it holds, oldest
        first: the held writes of a node that stopped before the database returned."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        base = self.path
        for number in range(_MAX_NODES_PER_DIRECTORY):
            candidate = base if number == 0 else base.with_name(f"{base.name}.{number}")
            if (file := _locked(candidate)) is not None:
                self.path, self._file = candidate, file
                file.seek(0)
                return _decode_batches(file.read(), candidate)
        raise JournalUnusable(f"{_MAX_NODES_PER_DIRECTORY} running csms nodes hold the held-writes journals at {base}")

    @property
    def is_open(self) -> bool:
        return self._file is not None

    @staticmethod
    def can_hold(parts: Sequence[Part]) -> bool:
        """True when every statement of `parts` is registered, so the write can be journaled."""
        return all(id(statement) in _NAMES for statement, _rows in parts)

    async def append(self, batch: Sequence[Sequence[Part]]) -> None:
        """Append one held batch (the parts of each of its writes) and fsync it before returning."""
        line = _encode_batch(batch)
        await asyncio.to_thread(self._append_and_sync, line)

    async def clear(self) -> None:
        """Forget every record: the database has them all."""
        await asyncio.to_thread(self._truncate_and_sync)

    async def rewrite(self, batches: Sequence[Sequence[Sequence[Part]]]) -> None:
        """Keep only `batches`: some of the journaled writes reached the database, the others did not."""
        lines = b"".join(_encode_batch(batch) for batch in batches)
        await asyncio.to_thread(self._truncate_and_sync, lines)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets go of the lock
            self._file = None

    def _append_and_sync(self, line: bytes) -> None:
        file = self._opened()
        file.write(line)
        file.flush()
        os.fsync(file.fileno())

    def _truncate_and_sync(self, lines: bytes = b"") -> None:
        file = self._opened()
        file.truncate(0)
        file.write(lines)
        file.flush()
        os.fsync(file.fileno())

    def _opened(self) -> IO[bytes]:
        if self._file is None:
            raise RuntimeError("the journal is not open")
        return self._file


def _encode_batch(batch: Sequence[Sequence[Part]]) -> bytes:
    writes = [[[_NAMES[id(statement)], rows] for statement, rows in parts] for parts in batch]
    body = json.dumps(writes, default=_encode_value, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _decode_batches(data: bytes, path: Path) -> list[list[tuple[Part, ...]]]:
    batches: list[list[tuple[Part, ...]]] = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1]):  # the part after the last newline is torn or empty
        body = _checked_body(line)
        if body is None:
            logger.warning("held-writes journal %s: record %d is torn; it and what follows are ignored", path, number)
            return batches
        batches.append([_decode_write(write, path) for write in json.loads(body, object_hook=_decode_value)])
    if lines[-1]:
        logger.warning("held-writes journal %s: ignored a torn last record (%d bytes)", path, len(lines[-1]))
    return batches


def _checked_body(line: bytes) -> bytes | None:
    checksum, _, body = line.partition(b" ")
    try:
        return body if int(checksum, 16) == zlib.crc32(body) else None
    except ValueError:
        return None


def _decode_write(write: list[list[Any]], path: Path) -> tuple[Part, ...]:
    parts: list[Part] = []
    for name, rows in write:
        statement = _STATEMENTS.get(name)
        if statement is None:
            raise JournalUnusable(f"the held-writes journal {path} has writes of an unknown statement {name!r}")
        parts.append((statement, rows))
    return tuple(parts)


# Values that JSON lacks, as objects of one key that no row of ours uses as a column name.
def _encode_value(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    raise TypeError(f"a {type(value).__name__} cannot be journaled")


_DECODERS: dict[str, Any] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$decimal": Decimal,
    "$bytes": base64.b64decode,
}


def _decode_value(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        ((key, encoded),) = value.items()
        if key in _DECODERS:
            return _DECODERS[key](encoded)
    return value


def _locked(path: Path) -> IO[bytes] | None:
    """The file at `path` (created if new), locked for this process; None if another holds it."""
    is_new = not path.exists()
    file = path.open("a+b")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    if is_new:
        _sync_directory(path.parent)
    return file


def _sync_directory(directory: Path) -> None:
    """Make a new file's name durable, not only its contents."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
