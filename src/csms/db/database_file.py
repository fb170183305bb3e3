"""The SQLite file a node opened, and whether the file at its path is still that one.

A node keeps its connections to the file it opened. Deleted or replaced under it, the node would go on
answering from an unlinked file that no restart will find, so readiness and every transaction compare
the file at the path with the one opened (device and inode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, event


class DatabaseFileReplaced(OSError):
    """The database file was deleted or replaced since the node opened it: written now, data would be lost."""


@dataclass(frozen=True, slots=True)
class DatabaseFile:
    path: Path
    device: int
    inode: int

    @classmethod
    def opened(cls, path: Path) -> DatabaseFile:
        """The file at `path` now, as the node opened it."""
        status = path.stat()
        return cls(path, status.st_dev, status.st_ino)

    def problem(self) -> str | None:
        """ "missing" or "replaced" when the file at the path is no longer the one opened, else None."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return "missing"
        return None if (status.st_dev, status.st_ino) == (self.device, self.inode) else "replaced"

    def check(self) -> None:
        """Raise DatabaseFileReplaced when the file at the path is no longer the one opened."""
        problem = self.problem()
        if problem is not None:
            raise DatabaseFileReplaced(
                f"the database file {self.path} is {problem} since this node opened it; restart the node "
                "once the right file is back"
            )

    def guard(self, engine: Engine) -> None:
        """Fail every transaction of `engine` that would run on a file no longer at the path, and open
        new connections on an existing file only: SQLite would create an empty one at a missing path,
        and beside it take over the write-ahead log that is still the opened file's."""
        event.listen(engine, "do_connect", self._open_existing_only)
        event.listen(engine, "begin", self._check_on_begin)

    def _open_existing_only(self, _dialect: Any, _record: Any, arguments: list[Any], options: dict[str, Any]) -> None:
        arguments[:] = [f"file:{quote(str(self.path.absolute()))}?mode=rw"]
        options["uri"] = True

    def _check_on_begin(self, _connection: Any) -> None:
        self.check()

    @staticmethod
    def of(path: Path | None) -> DatabaseFile | None:
        """The opened file for a file-backed SQLite database; None for other databases."""
        return DatabaseFile.opened(path) if path is not None and path.exists() else None
