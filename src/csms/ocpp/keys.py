"""camelCase (OCPP on the wire) ⇄ snake_case (Python) keys, converted by the `ocpp` package's own rules.

The package converts every key of every message with regular expressions; a node sees the same few
dozen keys millions of times, so each key is converted once per process and remembered.
"""

from __future__ import annotations

import functools
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case


def snake_case_keys(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {_snake(key): snake_case_keys(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [snake_case_keys(value) for value in payload]
    return payload


def camel_case_keys(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {_camel(key): camel_case_keys(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [camel_case_keys(value) for value in payload]
    return payload


@functools.lru_cache(maxsize=4096)
def _snake(key: str) -> str:
    converted: dict[str, Any] = camel_to_snake_case({key: None})
    return next(iter(converted))


@functools.lru_cache(maxsize=4096)
def _camel(key: str) -> str:
    converted: dict[str, Any] = snake_to_camel_case({key: None})
    return next(iter(converted))
