"""The OCPP-J messages: the three of every version (OCPP-J 1.6 §4, 2.0.1 §4), and the two OCPP-J 2.1
adds (§4.2.4 CALLRESULTERROR, §4.2.5 SEND), which only a 2.1 session accepts."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

Payload = dict[str, Any]


class MessageType(enum.IntEnum):
    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4
    CALL_RESULT_ERROR = 5  # 2.1: the receiver of a CALLRESULT found it wrong; never answered
    SEND = 6  # 2.1: an unconfirmed message; never answered


# What every version accepts; a version may add more (OcppVersion.message_types).
CORE_MESSAGE_TYPES = frozenset({MessageType.CALL, MessageType.CALL_RESULT, MessageType.CALL_ERROR})


def _to_json(frame: list[Any]) -> str:
    # Compact; non-ASCII text escaped, so no string can make a frame that is not valid UTF-8.
    return json.dumps(frame, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: Payload
    message_type = MessageType.CALL

    def to_json(self) -> str:
        return _to_json([2, self.unique_id, self.action, self.payload])


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: Payload
    message_type = MessageType.CALL_RESULT

    def to_json(self) -> str:
        return _to_json([3, self.unique_id, self.payload])


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    error_code: str
    error_description: str
    error_details: Payload = field(default_factory=dict)
    message_type = MessageType.CALL_ERROR

    def to_json(self) -> str:
        return _to_json([4, self.unique_id, self.error_code, self.error_description, self.error_details])


@dataclass(frozen=True, slots=True)
class CallResultError:
    """OCPP-J 2.1 §4.2.4: the peer found an error in a CALLRESULT csms sent it."""

    unique_id: str
    error_code: str
    error_description: str
    error_details: Payload = field(default_factory=dict)
    message_type = MessageType.CALL_RESULT_ERROR

    def to_json(self) -> str:
        return _to_json([5, self.unique_id, self.error_code, self.error_description, self.error_details])


@dataclass(frozen=True, slots=True)
class Send:
    """OCPP-J 2.1 §4.2.5: a message like a CALL that gets no answer at all."""

    unique_id: str
    action: str
    payload: Payload
    message_type = MessageType.SEND

    def to_json(self) -> str:
        return _to_json([6, self.unique_id, self.action, self.payload])


Message = Call | CallResult | CallError | CallResultError | Send
