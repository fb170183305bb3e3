"""How deeply JSON from outside may nest, checked on the raw text before anything parses it.

The standard library's parser recurses once per array or object: a frame or body of a few thousand
brackets raises RecursionError from inside `json.loads`, and one that parses just below the limit
makes every later recursive walk (schema checks, key conversion, logging) fail instead. No OCPP 1.6
payload or REST body of csms nests deeper than about eight levels, so anything past MAX_JSON_DEPTH is
refused as malformed, the same way for chargers and for REST callers.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 32

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


def nests_deeper_than(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True if the arrays and objects in `text` nest deeper than `max_depth`.

    Text with no more opening brackets than the limit cannot nest past it, which `str.count` tells in
    C for nearly every frame; only the rest is walked token by token. Invalid JSON may be judged either
    way: the parser refuses it anyway.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in _OPENING:
            depth += 1
            if depth > max_depth:
                return True
        elif token in _CLOSING:
            depth -= 1
    return False
