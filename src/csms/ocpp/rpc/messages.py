"""The three OCPP-J messages (OCPP-J 1.6 §4, 2.0.1 §4): the same in every version."""

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


Message = Call | CallResult | CallError
