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


def find_unstorable(value: Any) -> tuple[str, str] | None:
    """The first string in a decoded JSON value (keys included) that cannot be stored, as
    (path like `meterValue/0/sampledValue/0/value`, reason); None if every string can be.

    Walked with a stack of its own, not recursion: any depth json.loads accepts is walked.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason is not None:
                return escape_unstorable(path), reason
        elif isinstance(item, dict):
            children = [(f"{path}/{key}" if path else str(key), key, child) for key, child in item.items()]
            for where, key, child in reversed(children):
                stack.append((where, child))
                stack.append((where, key))  # the key first: a bad key is named before its value
        elif isinstance(item, list):
            stack.extend(
                (f"{path}/{index}" if path else str(index), child) for index, child in reversed(list(enumerate(item)))
            )
    return None


def escape_unstorable(text: str) -> str:
    """`text` with each NUL and lone surrogate written as its JSON escape (`\\u0000`, `\\ud800`)."""
    if unstorable_reason(text) is None:
        return text
    escaped = text.replace(NUL, "\\u0000")
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", escaped)
