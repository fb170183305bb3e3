"""The JSON schemas of one OCPP version, read from the `ocpp` package's schema files and compiled once.

A payload is checked by a compiled validator (jsonschema-rs: the schema compiled in Rust, some twenty
times faster than fastjsonschema's generated Python on a 2.0.1 TransactionEvent, whose check had become
the largest single cost of a 2.0.1 message); only one it refuses is walked again with jsonschema, over
decimals, to name the field at fault and the kind of error. Decimals, because a few schemas use
`multipleOf` 0.1, which binary floats judge wrong (0.3 / 0.1 is not an integer in floating point).
"""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import ocpp
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from csms.ocpp.rpc.errors import ErrorKind, RpcError

# What each JSON-schema keyword means in OCPP-J's error terms (1.6 §4.2.3, 2.0.1 §4.2.3).
_KIND_FOR_KEYWORD = {
    "type": ErrorKind.TYPE_CONSTRAINT,
    "maxLength": ErrorKind.TYPE_CONSTRAINT,  # CiStringN is a type
    "minLength": ErrorKind.TYPE_CONSTRAINT,
    "format": ErrorKind.TYPE_CONSTRAINT,
    "required": ErrorKind.PROTOCOL,  # "Payload for Action is incomplete"
    "additionalProperties": ErrorKind.FORMAT,
    "enum": ErrorKind.PROPERTY_CONSTRAINT,
    "minimum": ErrorKind.PROPERTY_CONSTRAINT,
    "maximum": ErrorKind.PROPERTY_CONSTRAINT,
    "multipleOf": ErrorKind.PROPERTY_CONSTRAINT,
    "pattern": ErrorKind.PROPERTY_CONSTRAINT,
    "minItems": ErrorKind.OCCURRENCE_CONSTRAINT,
    "maxItems": ErrorKind.OCCURRENCE_CONSTRAINT,
}
_SAFE_ACTION = re.compile(r"[A-Za-z0-9]{1,64}")  # an action names a schema file: no paths
# OCPP's integers are 32-bit (1.6 and 2.0.1 part 2, "integer"): the schema files leave the bounds out.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Which schema of an action: its request, its response, or (2.1) the message of a SEND.
_REQUEST, _RESPONSE, _SEND = "request", "response", "send"


class SchemaSet:
    """The request and response schemas of one version, by action.

    `request_suffix` is how the version names a request's file: 1.6 `Authorize.json`, 2.0.1
    `AuthorizeRequest.json`; responses are `AuthorizeResponse.json` in both. A 2.1 SEND message has
    no answer and its file has no suffix (`NotifyPeriodicEventStream.json`).
    """

    def __init__(self, directory: Path, *, request_suffix: str) -> None:
        self._directory = directory
        self._request_suffix = request_suffix
        # Per instance, not functools.cache on methods: the set lives as long as the process anyway.
        self._schema = functools.lru_cache(maxsize=512)(self._read)
        self._compiled = functools.lru_cache(maxsize=512)(self._compile)

    @classmethod
    def of_package(cls, version_folder: str, *, request_suffix: str) -> SchemaSet:
        return cls(Path(ocpp.__file__).parent / version_folder / "schemas", request_suffix=request_suffix)

    def knows_request(self, action: str) -> bool:
        return self._schema(action, _REQUEST) is not None

    def check_request(self, action: str, payload: dict[str, Any]) -> None:
        """Raise RpcError naming the field at fault when `payload` breaks the action's request schema."""
        self._check(action, _REQUEST, payload)

    def check_response(self, action: str, payload: dict[str, Any]) -> None:
        self._check(action, _RESPONSE, payload)

    def check_send(self, action: str, payload: dict[str, Any]) -> None:
        """As check_request, for the message of a SEND (OCPP-J 2.1 §4.2.5)."""
        self._check(action, _SEND, payload)

    def _check(self, action: str, which: str, payload: dict[str, Any]) -> None:
        compiled = self._compiled(action, which)
        if compiled is None:
            return
        try:
            if compiled.is_valid(payload):
                return
        except ValueError:  # text Rust cannot hold (a lone surrogate in a key): the walk below decides
            pass
        schema = self._schema(action, which, decimals=True)
        validator = validator_for(schema)(schema)
        error = best_match(validator.iter_errors(_with_decimals(payload)))
        if error is None:
            return  # refused only for binary floats: the decimal reading passes
        where = "/".join(str(part) for part in error.absolute_path) or "payload"
        if _is_32_bit_bound(error.validator, error.validator_value):
            raise RpcError(ErrorKind.TYPE_CONSTRAINT, f"{where}: not a 32-bit integer")
        kind = _KIND_FOR_KEYWORD.get(str(error.validator), ErrorKind.FORMAT)
        raise RpcError(kind, f"{where}: {error.message}")

    def _read(self, action: str, which: str, decimals: bool = False) -> dict[str, Any] | None:
        suffix = {_REQUEST: self._request_suffix, _RESPONSE: "Response", _SEND: ""}[which]
        name = action + suffix
        path = self._directory / f"{name}.json"
        if not _SAFE_ACTION.fullmatch(action) or not path.is_file():
            return None
        text = path.read_text(encoding="utf-8-sig")
        schema: dict[str, Any] = json.loads(text, parse_float=Decimal) if decimals else json.loads(text)
        _bound_integers(schema)
        return schema

    def _compile(self, action: str, which: str) -> jsonschema_rs.Validator | None:
        schema = self._schema(action, which)
        return jsonschema_rs.validator_for(schema, validate_formats=True) if schema is not None else None


def _bound_integers(node: Any) -> None:
    """Give every integer of the schema the 32-bit bounds the spec means, so the database never gets a
    larger one; a `number` (a meter reading, a limit) stays unbounded."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node["minimum"] = max(node.get("minimum", INT32_MIN), INT32_MIN)
            node["maximum"] = min(node.get("maximum", INT32_MAX), INT32_MAX)
        for child in node.values():
            _bound_integers(child)
    elif isinstance(node, list):
        for child in node:
            _bound_integers(child)


def _is_32_bit_bound(keyword: object, bound: object) -> bool:
    return (keyword, bound) in (("minimum", INT32_MIN), ("maximum", INT32_MAX))


def _with_decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _with_decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_decimals(item) for item in value]
    return value
