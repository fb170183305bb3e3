"""Reading OCPP-J frames, and every way one can be wrong, in any OCPP version.

Size and nesting are checked on the raw text before it is parsed; a frame that cannot be read raises
FrameError with the kind of CallError its sender gets, spelled later for the charger's version.
"""

from __future__ import annotations

import json
import re
from typing import Any

from csms.db.storable_text import find_unstorable, unstorable_reason
from csms.json_depth import MAX_JSON_DEPTH, nests_deeper_than
from csms.ocpp.rpc.errors import ErrorKind, RpcError
from csms.ocpp.rpc.messages import (
    CORE_MESSAGE_TYPES,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Message,
    MessageType,
    Send,
)

# OCPP-J 1.6 §4.1.3 and 2.0.1 §4.1.3: the message id is a string of at most 36 characters.
MAX_UNIQUE_ID_LENGTH = 36
# OCPP-J 2.0.1 §4.2.3's convention for an error about a frame whose id cannot be read.
UNKNOWN_UNIQUE_ID = "-1"

# No escapes and no control characters: the guess is echoed, and must be text that can be stored.
_LEADING_UNIQUE_ID = re.compile(r'^\s*\[\s*([2-6])\s*,\s*"([^"\\\x00-\x1f]{1,36})"')
_LEADING_CALL_ID = re.compile(r'^\s*\[\s*2\s*,\s*"([^"\\\x00-\x1f]{1,36})"')


class FrameError(Exception):
    """A frame that cannot be handled: the id to answer and the error its sender is told, unless the
    frame is one that is never answered (a 2.1 SEND or CALLRESULTERROR): then it is only dropped."""

    def __init__(self, unique_id: str, kind: ErrorKind, description: str, *, answerable: bool = True) -> None:
        super().__init__(description)
        self.unique_id = unique_id
        self.error = RpcError(kind, description)
        self.answerable = answerable


def parse_frame(raw: str | bytes, *, max_bytes: int, message_types: frozenset[int] = CORE_MESSAGE_TYPES) -> Message:
    """Parse one OCPP-J frame, or raise FrameError.

    `message_types` are those the session's version defines: 2.1 adds CALLRESULTERROR and SEND, which
    any other version refuses as a message type it does not know. The parser recurses per level, so a
    frame of thousands of brackets is refused before it is parsed.
    """
    size = len(raw)
    if size > max_bytes:
        raise _unreadable(raw, message_types, f"frame of {size} bytes exceeds the {max_bytes} byte limit")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise FrameError(UNKNOWN_UNIQUE_ID, ErrorKind.FORMAT, "frame is not valid UTF-8") from None
    if nests_deeper_than(text, MAX_JSON_DEPTH):
        raise _unreadable(text, message_types, f"frame nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        decoded = json.loads(text)
    except ValueError:
        raise FrameError(UNKNOWN_UNIQUE_ID, ErrorKind.FORMAT, "frame is not valid JSON") from None
    message = _message_from_array(decoded, message_types)
    # A NUL or a lone surrogate reaches a decoded string only through a \u escape: JSON refuses a raw
    # NUL, and the text is valid UTF-8 (bytes were decoded strictly above, which refuses encoded
    # surrogates), so frames without one skip the walk through the payload.
    return _storable(message) if "\\u" in text else message


def _message_from_array(decoded: Any, message_types: frozenset[int]) -> Message:
    # A frame of a type that is never answered stays unanswered whatever else is wrong with it.
    answerable = not (isinstance(decoded, list) and decoded and _is_unanswered_type(decoded[0], message_types))
    if not isinstance(decoded, list) or len(decoded) < 3:
        raise FrameError(
            UNKNOWN_UNIQUE_ID,
            ErrorKind.RPC_FRAMEWORK,
            "an OCPP-J frame is a JSON array of 3 to 5 elements",
            answerable=answerable,
        )
    message_type, unique_id = decoded[0], decoded[1]
    if not isinstance(unique_id, str) or not unique_id:
        raise FrameError(
            UNKNOWN_UNIQUE_ID,
            ErrorKind.RPC_FRAMEWORK,
            "the message id must be a non-empty string",
            answerable=answerable,
        )
    reason = unstorable_reason(unique_id)
    if reason is not None:
        # Not echoed: the answer and the message log would carry the very text that cannot be stored.
        raise FrameError(
            UNKNOWN_UNIQUE_ID, ErrorKind.RPC_FRAMEWORK, f"the message id contains {reason}", answerable=answerable
        )
    if len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        raise FrameError(
            unique_id[:MAX_UNIQUE_ID_LENGTH],
            ErrorKind.RPC_FRAMEWORK,
            f"the message id is longer than {MAX_UNIQUE_ID_LENGTH} characters",
            answerable=answerable,
        )
    if message_type == MessageType.CALL:
        return _call(decoded, unique_id)
    if message_type == MessageType.CALL_RESULT and len(decoded) == 3:
        return _call_result(unique_id, decoded[2])
    if message_type == MessageType.CALL_ERROR and len(decoded) == 5:
        return _call_error(unique_id, decoded[2], decoded[3], decoded[4])
    if message_type in (MessageType.CALL_RESULT, MessageType.CALL_ERROR):
        raise FrameError(unique_id, ErrorKind.RPC_FRAMEWORK, f"a message of type {message_type} has the wrong length")
    if message_type == MessageType.SEND and message_type in message_types:
        return _send(decoded, unique_id)
    if message_type == MessageType.CALL_RESULT_ERROR and message_type in message_types:
        return _call_result_error(decoded, unique_id)
    raise FrameError(unique_id, ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, f"unknown message type {message_type!r}")


# An answer is never answered (OCPP-J §4.2): a malformed one reaches the call that waits for it as a
# CallError that says what was wrong.


def _call_result(unique_id: str, payload: Any) -> CallResult | CallError:
    if isinstance(payload, dict):
        return CallResult(unique_id, payload)
    return CallError(unique_id, ErrorKind.FORMAT.value, "csms refused the answer: its payload is not a JSON object")


def _call_error(unique_id: str, code: Any, description: Any, details: Any) -> CallError:
    if isinstance(code, str) and isinstance(description, str) and isinstance(details, dict):
        return CallError(unique_id, code, description, details)
    return CallError(unique_id, ErrorKind.FORMAT.value, "csms refused the answer: a malformed CallError")


def _call(decoded: list[Any], unique_id: str) -> Call:
    if len(decoded) != 4:
        raise FrameError(unique_id, ErrorKind.RPC_FRAMEWORK, "a CALL is [2, messageId, action, payload]")
    action, payload = decoded[2], decoded[3]
    if not isinstance(action, str) or not action:
        raise FrameError(unique_id, ErrorKind.RPC_FRAMEWORK, "the action must be a non-empty string")
    if not isinstance(payload, dict):
        raise FrameError(unique_id, ErrorKind.FORMAT, "the payload of a CALL must be a JSON object")
    return Call(unique_id, action, payload)


# OCPP-J 2.1 §4.2.4 and §4.2.5: a CALLRESULTERROR and a SEND are never answered, not even when they
# are malformed: such a frame is dropped (and logged) instead.


def _is_unanswered_type(message_type: Any, message_types: frozenset[int]) -> bool:
    return (
        type(message_type) is int
        and message_type in (MessageType.SEND, MessageType.CALL_RESULT_ERROR)
        and message_type in message_types
    )


def _send(decoded: list[Any], unique_id: str) -> Send:
    action = decoded[2] if len(decoded) == 4 else None
    payload = decoded[3] if len(decoded) == 4 else None
    if not isinstance(action, str) or not action or not isinstance(payload, dict):
        raise FrameError(
            unique_id, ErrorKind.RPC_FRAMEWORK, "a SEND is [6, messageId, action, {payload}]", answerable=False
        )
    return Send(unique_id, action, payload)


def _call_result_error(decoded: list[Any], unique_id: str) -> CallResultError:
    if len(decoded) == 5:
        code, description, details = decoded[2], decoded[3], decoded[4]
        if isinstance(code, str) and isinstance(description, str) and isinstance(details, dict):
            return CallResultError(unique_id, code, description, details)
    raise FrameError(
        unique_id,
        ErrorKind.RPC_FRAMEWORK,
        "a CALLRESULTERROR is [5, messageId, errorCode, errorDescription, {errorDetails}]",
        answerable=False,
    )


def _storable(message: Message) -> Message:
    """The message, unless a string in it is text the database cannot store (storable_text.py).

    A CALL is refused with the error that names the field, before any handler stores a part of it. An
    answer to csms's own call cannot be answered back: its waiter gets that CallError instead.
    """
    if isinstance(message, Call | Send):
        reason = unstorable_reason(message.action)
        if reason is not None:
            raise FrameError(
                message.unique_id,
                ErrorKind.FORMAT,
                f"the action contains {reason}",
                answerable=isinstance(message, Call),
            )
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
    if isinstance(message, Call | Send | CallResultError):
        raise FrameError(
            message.unique_id, ErrorKind.PROPERTY_CONSTRAINT, description, answerable=isinstance(message, Call)
        )
    return CallError(
        message.unique_id, ErrorKind.PROPERTY_CONSTRAINT.value, f"csms refused the answer: {description}", {}
    )


def _unreadable(raw: str | bytes, message_types: frozenset[int], description: str) -> FrameError:
    """The error of a frame too large or too deep to parse, with the id and type its first bytes show:
    a frame of a type that is never answered (2.1 SEND, CALLRESULTERROR) is only dropped."""
    head = raw[:128].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:128]
    match = _LEADING_UNIQUE_ID.match(head)
    if match is None:
        return FrameError(UNKNOWN_UNIQUE_ID, ErrorKind.FORMAT, description)
    answerable = not _is_unanswered_type(int(match.group(1)), message_types)
    return FrameError(match.group(2), ErrorKind.FORMAT, description, answerable=answerable)


def guess_call_unique_id(raw: str | bytes) -> str | None:
    """The message id of what looks like a CALL, read from its first bytes only; None for anything else."""
    head = raw[:128].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:128]
    match = _LEADING_CALL_ID.match(head)
    return match.group(1) if match else None
