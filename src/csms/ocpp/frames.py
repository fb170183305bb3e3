"""Reading OCPP-J frames and turning every way they can be wrong into a 1.6 CallError.

The `ocpp` package parses and validates messages; this module decides what a charger is told
when that fails, because the package drops unparsable frames silently and names some errors with
OCPP 2.0 codes that a 1.6 charger does not know.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, CallResult, MessageType

from csms.db.storable_text import find_unstorable, unstorable_reason
from csms.json_depth import MAX_JSON_DEPTH, nests_deeper_than

# OCPP-J 1.6 §4.1.3: the message id is a string of at most 36 characters.
MAX_UNIQUE_ID_LENGTH = 36
# OCPP-J 2.0.1 §4.2.3's convention for an error about a frame whose id cannot be read.
UNKNOWN_UNIQUE_ID = "-1"

FORMATION_VIOLATION = "FormationViolation"
PROTOCOL_ERROR = "ProtocolError"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"

# The OCPP 1.6 error codes (OCPP-J 1.6 §4.2.3), and the package's later spellings mapped onto them.
OCPP16_ERROR_CODES = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)
_TO_OCPP16_CODE = {
    "FormatViolation": FORMATION_VIOLATION,
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}

# What each JSON-schema keyword means in OCPP-J 1.6 §4.2.3 terms.
_CODE_FOR_SCHEMA_KEYWORD = {
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",  # CiStringN is a type
    "minLength": "TypeConstraintViolation",
    "format": "TypeConstraintViolation",
    "required": PROTOCOL_ERROR,  # "Payload for Action is incomplete"
    "additionalProperties": FORMATION_VIOLATION,
    "enum": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "minItems": "OccurenceConstraintViolation",
    "maxItems": "OccurenceConstraintViolation",
}

_SAFE_ACTION = re.compile(r"[A-Za-z]{1,64}")  # an action names a schema file: no paths
# No escapes and no control characters: the guess is echoed, and must be text that can be stored.
_LEADING_UNIQUE_ID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\\x00-\x1f]{1,36})"')
_LEADING_CALL_ID = re.compile(r'^\s*\[\s*2\s*,\s*"([^"\\\x00-\x1f]{1,36})"')


class FrameError(Exception):
    """A frame that cannot be handled; `call_error` is what the sender is told."""

    def __init__(self, unique_id: str, code: str, description: str) -> None:
        super().__init__(description)
        self.call_error = CallError(unique_id, code, description, {})


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    message: Call | CallResult | CallError

    @property
    def message_type(self) -> int:
        return int(self.message.message_type_id)


def to_ocpp16_call_error(unique_id: str, error: OCPPError) -> CallError:
    code = _TO_OCPP16_CODE.get(error.code, error.code)
    if code not in OCPP16_ERROR_CODES:
        code = "GenericError"
    cause = error.details.get("cause") if isinstance(error.details, dict) else None
    return CallError(unique_id, code, error.description, {"cause": str(cause)} if cause else {})


def rate_limited(unique_id: str) -> CallError:
    """The answer to a call beyond the charger's message budget; it may send it again later."""
    return CallError(unique_id, "SecurityError", "too many messages; slow down and send this again later", {})


def parse_frame(raw: str | bytes, *, max_bytes: int) -> ParsedFrame:
    """Parse one OCPP-J frame, or raise FrameError with the CallError to send back.

    Size and nesting are checked on the raw text first: the parser recurses per level, and a frame
    of thousands of brackets would raise RecursionError from inside it.
    """
    size = len(raw)
    if size > max_bytes:
        raise FrameError(
            guess_unique_id(raw),
            FORMATION_VIOLATION,
            f"frame of {size} bytes exceeds the {max_bytes} byte limit",
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise FrameError(UNKNOWN_UNIQUE_ID, FORMATION_VIOLATION, "frame is not valid UTF-8") from None
    if nests_deeper_than(text, MAX_JSON_DEPTH):
        raise FrameError(guess_unique_id(text), FORMATION_VIOLATION, f"frame nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        decoded = json.loads(text)
    except ValueError:
        raise FrameError(UNKNOWN_UNIQUE_ID, FORMATION_VIOLATION, "frame is not valid JSON") from None
    message = _message_from_array(decoded)
    # A NUL or a lone surrogate reaches a decoded string only through a \u escape: JSON refuses a raw
    # NUL, and the text is valid UTF-8 (bytes were decoded strictly above, which refuses encoded
    # surrogates), so frames without one skip the walk through the payload.
    return ParsedFrame(_storable(message) if "\\u" in text else message)


def validate_call(message: Call) -> None:
    """Check a CALL's payload against the `ocpp` package's 1.6 schema, naming the field at fault.

    The schema is compiled to Python once (fastjsonschema, much faster than jsonschema's walk); only
    a payload it refuses is walked again with jsonschema, to name the field and the 1.6 error code.
    """
    schema = _schema(MessageType.Call, message.action)
    if schema is None:
        return  # not a 1.6 action: routing answers NotSupported
    if passes_compiled_schema(MessageType.Call, message.action, message.payload):
        return
    error = best_match(Draft4Validator(schema).iter_errors(message.payload))
    if error is None:
        return
    where = "/".join(str(part) for part in error.absolute_path) or "payload"
    code = _CODE_FOR_SCHEMA_KEYWORD.get(str(error.validator), FORMATION_VIOLATION)
    raise FrameError(message.unique_id, code, f"{where}: {error.message}")


# The package's schema files, read here rather than through ocpp.messages.get_validator: that cache
# keys a schema by name only, and filling it with a float-parsed schema breaks the package's own
# Decimal-parsed check of SetChargingProfile and RemoteStartTransaction (multipleOf 0.1).
_SCHEMA_DIR = Path(ocpp.__file__).parent / "v16" / "schemas"


@functools.lru_cache(maxsize=256)
def _schema(message_type: int, action: str) -> dict[str, Any] | None:
    name = f"{action}Response" if message_type == MessageType.CallResult else action
    path = _SCHEMA_DIR / f"{name}.json"
    if not _SAFE_ACTION.fullmatch(action) or not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    return schema


@functools.lru_cache(maxsize=256)
def _compiled(message_type: int, action: str) -> Callable[[Any], Any] | None:
    schema = _schema(message_type, action)
    return fastjsonschema.compile(schema) if schema is not None else None


def passes_compiled_schema(message_type: int, action: str, payload: Any) -> bool:
    """The fast check of a payload against the package's 1.6 schema (a CALL's or its CallResult's).

    False means "look closer": a few schemas use multipleOf on decimals, which only the package's
    own Decimal-aware check judges right.
    """
    check = _compiled(message_type, action)
    if check is None:
        return False
    try:
        check(payload)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _message_from_array(decoded: Any) -> Call | CallResult | CallError:
    if not isinstance(decoded, list) or len(decoded) < 3:
        raise FrameError(UNKNOWN_UNIQUE_ID, FORMATION_VIOLATION, "an OCPP-J frame is a JSON array of 3 to 5 elements")
    message_type, unique_id = decoded[0], decoded[1]
    if not isinstance(unique_id, str) or not unique_id:
        raise FrameError(UNKNOWN_UNIQUE_ID, FORMATION_VIOLATION, "the message id must be a non-empty string")
    reason = unstorable_reason(unique_id)
    if reason is not None:
        # Not echoed: the answer and the message log would carry the very text that cannot be stored.
        raise FrameError(UNKNOWN_UNIQUE_ID, FORMATION_VIOLATION, f"the message id contains {reason}")
    if len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        raise FrameError(
            unique_id[:MAX_UNIQUE_ID_LENGTH],
            FORMATION_VIOLATION,
            f"the message id is longer than {MAX_UNIQUE_ID_LENGTH} characters",
        )
    if message_type == MessageType.Call:
        return _call(decoded, unique_id)
    if message_type == MessageType.CallResult and len(decoded) == 3:
        return CallResult(unique_id, decoded[2])
    if message_type == MessageType.CallError and len(decoded) == 5:
        return CallError(unique_id, decoded[2], decoded[3], decoded[4])
    raise FrameError(unique_id, FORMATION_VIOLATION, f"unknown message type {message_type!r} or wrong length")


def _call(decoded: list[Any], unique_id: str) -> Call:
    if len(decoded) != 4:
        raise FrameError(unique_id, FORMATION_VIOLATION, "a CALL is [2, messageId, action, payload]")
    action, payload = decoded[2], decoded[3]
    if not isinstance(action, str) or not action:
        raise FrameError(unique_id, FORMATION_VIOLATION, "the action must be a non-empty string")
    if not isinstance(payload, dict):
        raise FrameError(unique_id, FORMATION_VIOLATION, "the payload of a CALL must be a JSON object")
    return Call(unique_id, action, payload)


def _storable(message: Call | CallResult | CallError) -> Call | CallResult | CallError:
    """The message, unless a string in it is text the database cannot store (storable_text.py).

    A CALL is refused with the CallError that names the field, before any handler stores a part of
    it. An answer to csms's own call cannot be answered back: its waiter gets that CallError instead.
    """
    if isinstance(message, Call):
        reason = unstorable_reason(message.action)
        if reason is not None:
            raise FrameError(message.unique_id, FORMATION_VIOLATION, f"the action contains {reason}")
        found = find_unstorable(message.payload)
    elif isinstance(message, CallResult):
        found = find_unstorable(message.payload)
    else:
        fields = ("errorCode", "errorDescription", "errorDetails")
        values = (message.error_code, message.error_description, message.error_details)
        found = find_unstorable(dict(zip(fields, values, strict=True)))
    if found is None:
        return message
    where, reason = found
    description = f"{where or 'payload'}: contains {reason}"
    if isinstance(message, Call):
        raise FrameError(message.unique_id, PROPERTY_CONSTRAINT_VIOLATION, description)
    return CallError(message.unique_id, PROPERTY_CONSTRAINT_VIOLATION, f"csms refused the answer: {description}", {})


def guess_unique_id(raw: str | bytes) -> str:
    """The message id at the start of a frame that is not parsed (too large, too deep, over budget)."""
    head = raw[:128].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:128]
    match = _LEADING_UNIQUE_ID.match(head)
    return match.group(1) if match else UNKNOWN_UNIQUE_ID


def guess_call_unique_id(raw: str) -> str | None:
    """The message id of what looks like a CALL, read from its first bytes only; None for anything else."""
    match = _LEADING_CALL_ID.match(raw[:128])
    return match.group(1) if match else None


# OCPP 1.6 defines `integer` as 32 bits (31 + a sign); the JSON schemas leave it unbounded.
_INT32_RANGE = range(-(2**31), 2**31)


def require_32_bit_integers(message: Call) -> None:
    """Refuse a CALL holding an integer beyond 32 bits, before a handler hands it to the database."""
    where = _oversized_integer(message.payload, "")
    if where is not None:
        raise FrameError(message.unique_id, "TypeConstraintViolation", f"{where or 'payload'}: not a 32-bit integer")


def _oversized_integer(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        is_oversized = isinstance(value, int) and not isinstance(value, bool) and value not in _INT32_RANGE
        return path if is_oversized else None
    for key, item in items:
        found = _oversized_integer(item, f"{path}/{key}" if path else str(key))
        if found is not None:
            return found
    return None
