"""Which database a node runs on, so a lost or wrong one stops the node instead of starting it empty.

A node that finds an empty database starts from scratch: right on a fresh install, and silent data loss
when the database was deleted or CSMS_DATABASE_URL names another one. The database keeps an identity
(one row, made with the schema) and the node a marker with the same id in its files directory. Before
migrating, a node refuses an empty database when the marker, the files directory or the secret file
shows it has run before, and a database whose identity is not the marker's, unless told it is a new
database (`csms migrate --new`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import Settings
from csms.db.engine import DatabaseTimeouts, create_migration_engine
from csms.db.migrate import upgrade_to_head
from csms.db.models import DatabaseIdentity

MARKER_NAME = ".csms-database-id"


class DatabaseNotRecognised(RuntimeError):
    """The database is empty or another one, though this node has run before on a database of its own."""


@dataclass(frozen=True, slots=True)
class NodeTraces:
    """Where a node that has run before leaves signs of it."""

    files_dir: Path
    # The generated development secret, when the node takes its secret from that file; None when
    # CSMS_JWT_SECRET is set, where a file of that name (another node's, say `make run`'s in the same
    # directory) says nothing about this node.
    secret_file: Path | None

    @classmethod
    def of(cls, settings: Settings) -> NodeTraces | None:
        """The node's traces; None for a database that ends with the process (SQLite in memory)."""
        if settings.database_url.startswith("sqlite") and settings.sqlite_path() is None:
            return None
        secret_file = None if settings.jwt_secret else settings.jwt_secret_file()
        return cls(settings.resolved_files_dir(), secret_file)

    @property
    def marker(self) -> Path:
        return self.files_dir / MARKER_NAME

    def found(self) -> list[Path]:
        """The signs present: the marker, a files directory with anything in it, the secret file."""
        found = [self.marker] if self.marker.exists() else []
        if not found and self.files_dir.is_dir() and any(self.files_dir.iterdir()):
            found.append(self.files_dir)
        if self.secret_file is not None and self.secret_file.exists():
            found.append(self.secret_file)
        return found

    def marked_identity(self) -> str | None:
        if not self.marker.exists():
            return None
        return self.marker.read_text().strip() or None

    def mark(self, identity: str) -> None:
        """Keep `identity` in the marker, replacing it whole (a crash leaves the old or the new one)."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        draft = self.marker.with_name(MARKER_NAME + ".new")
        with draft.open("w") as file:
            file.write(identity + "\n")
            file.flush()
            os.fsync(file.fileno())
        draft.replace(self.marker)


async def open_database(engine: AsyncEngine, traces: NodeTraces | None, *, is_new: bool = False) -> None:
    """Migrate the database to the current schema, once it is known to be this node's.

    `traces` is None for a database that cannot outlive the process (SQLite in memory). `is_new` accepts
    an empty or different database and makes it this node's (`csms migrate --new`).
    """
    if traces is not None and not is_new:
        _refuse_unrecognised(engine, traces, await _identity(engine))
    await upgrade_to_head(engine)
    identity = (await _identity(engine)).identity
    if traces is not None and identity is not None and identity != traces.marked_identity():
        traces.mark(identity)


async def open_database_of(settings: Settings, engine: AsyncEngine, *, is_new: bool = False) -> None:
    """`open_database` for the node that will use `engine`, migrating on an engine without its statement
    limits (a long migration must not be cut short); on SQLite on `engine` itself, whose database may
    exist only in it."""
    traces = NodeTraces.of(settings)
    if engine.dialect.name == "sqlite":
        await open_database(engine, traces, is_new=is_new)
        return
    migrating = create_migration_engine(settings.database_url, DatabaseTimeouts.of(settings))
    try:
        await open_database(migrating, traces, is_new=is_new)
    finally:
        await migrating.dispose()


@dataclass(frozen=True, slots=True)
class _Found:
    is_empty: bool
    identity: str | None


async def _identity(engine: AsyncEngine) -> _Found:
    async with engine.connect() as connection:
        return await connection.run_sync(_read_identity)


def _read_identity(connection: Connection) -> _Found:
    tables = inspect(connection)
    if not tables.has_table("alembic_version"):
        return _Found(is_empty=True, identity=None)
    if not tables.has_table(DatabaseIdentity.__tablename__):
        return _Found(is_empty=False, identity=None)  # migrated before identities existed
    return _Found(is_empty=False, identity=connection.scalar(select(DatabaseIdentity.id).limit(1)))


def _refuse_unrecognised(engine: AsyncEngine, traces: NodeTraces, found: _Found) -> None:
    database = engine.url.render_as_string(hide_password=True)
    advice = "restore it, correct CSMS_DATABASE_URL, or to start over on this database run `csms migrate --new`"
    if found.is_empty and (signs := traces.found()):
        names = ", ".join(str(path) for path in signs)
        raise DatabaseNotRecognised(
            f"the database {database} is empty, but this node has run before ({names}): "
            f"was the database deleted? {advice}"
        )
    marked = traces.marked_identity()
    if found.identity is not None and marked is not None and found.identity != marked:
        raise DatabaseNotRecognised(
            f"the database {database} is not the one this node last ran on (its identity is {found.identity}, "
            f"{traces.marker} says {marked}): {advice}"
        )
