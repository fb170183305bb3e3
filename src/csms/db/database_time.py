"""The database's clock in SQL, so every node compares leases against one clock whatever its own says.

`database_now()` is `now()` on PostgreSQL (the transaction's start) and the current UTC time on SQLite,
written as SQLAlchemy writes a datetime there (`YYYY-MM-DD HH:MM:SS.ffffff`), so the two compare as
stored values do. `database_now_plus(seconds)` is the same moment that many seconds later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# strftime's %f is seconds with milliseconds; three zeros make the six digits of a stored microsecond.
_SQLITE_NOW_FORMAT = "%Y-%m-%d %H:%M:%f000"


class database_now(FunctionElement[datetime]):  # a SQL function, named as one
    """The database's current time."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "database_now"


class database_now_plus(FunctionElement[datetime]):
    """The database's current time plus a number of seconds (a float, bound as a parameter)."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "database_now_plus"


@compiles(database_now)
def _now(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "now()"


@compiles(database_now, "sqlite")
def _now_sqlite(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('{_SQLITE_NOW_FORMAT}', 'now')"


@compiles(database_now_plus)
def _now_plus(element: database_now_plus, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(now() + make_interval(secs => {compiler.process(element.clauses, **kw)}))"


@compiles(database_now_plus, "sqlite")
def _now_plus_sqlite(element: database_now_plus, compiler: SQLCompiler, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"strftime('{_SQLITE_NOW_FORMAT}', 'now', printf('%+.3f seconds', {seconds}))"
