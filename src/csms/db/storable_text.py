"""Text the databases cannot store, found at the edges before it reaches a write.

JSON lets a peer send any code point as an escape: `"\\u0000"` is a NUL, which a PostgreSQL text
column cannot hold, and `"\\ud800"` a lone surrogate, which is no character at all and cannot be
encoded as UTF-8 for either database. Either one in a row fails the whole statement, so the OCPP
frames and REST requests are checked once where they arrive (`find_unstorable`), and what is kept
as a record of what arrived (the message log, the audit log) is escaped instead (`escape_unstorable`).
"""

from __future__ import annotations

import re
from typing import Any

NUL = "\x00"
# A surrogate code point on its own: Python keeps them in a str, UTF-8 cannot encode them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_reason(text: str) -> str | None:
    """What in `text` cannot be stored ("a NUL character", "a lone surrogate U+D800"), or None."""
    if NUL in text:
        return "a NUL character"
    if text.isascii():
        return None
    surrogate = _SURROGATE.search(text)
    return f"a lone surrogate U+{ord(surrogate.group()):04X}" if surrogate else None


def find_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string in a decoded JSON value (keys included) that cannot be stored, as
    (path like `meterValue/0/sampledValue/0/value`, reason); None if every string can be."""
    if isinstance(value, str):
        reason = unstorable_reason(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}/{key}" if path else str(key)
            found = find_unstorable(key, where) if isinstance(key, str) else None
            found = found or find_unstorable(item, where)
            if found:
                return _printable(found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unstorable(item, f"{path}/{index}" if path else str(index))
            if found:
                return found
    return None


def escape_unstorable(text: str) -> str:
    """`text` with each NUL and lone surrogate written as its JSON escape (`\\u0000`, `\\ud800`)."""
    if unstorable_reason(text) is None:
        return text
    escaped = text.replace(NUL, "\\u0000")
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", escaped)


def _printable(found: tuple[str, str]) -> tuple[str, str]:
    """A path may hold the bad key itself: it names the field in an answer that must be stored too."""
    path, reason = found
    return escape_unstorable(path), reason
