"""CallError kinds, named once for csms and spelled as each OCPP version spells them.

OCPP-J 1.6 and 2.0.1 define nearly the same errors under different names (1.6 `FormationViolation`
and `OccurenceConstraintViolation`, 2.0.1 `FormatViolation` and `OccurrenceConstraintViolation`), and
2.0.1 adds two. csms's code raises an `RpcError` of a kind; the session spells it for its charger.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class ErrorKind(enum.Enum):
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL = "InternalError"
    PROTOCOL = "ProtocolError"
    SECURITY = "SecurityError"
    FORMAT = "FormatViolation"
    PROPERTY_CONSTRAINT = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT = "TypeConstraintViolation"
    GENERIC = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    RPC_FRAMEWORK = "RpcFrameworkError"


# What each kind means, as OCPP-J's tables describe them: the description when a raise gives none.
DEFAULT_DESCRIPTIONS = {
    ErrorKind.NOT_IMPLEMENTED: "Requested Action is not known by receiver",
    ErrorKind.NOT_SUPPORTED: "Requested Action is recognized but not supported by the receiver",
    ErrorKind.INTERNAL: "An internal error occurred and the receiver was not able to process the requested "
    "Action successfully",
    ErrorKind.PROTOCOL: "Payload for Action is incomplete",
    ErrorKind.SECURITY: "During the processing of Action a security issue occurred preventing receiver from "
    "completing the Action successfully",
    ErrorKind.FORMAT: "Payload for Action is syntactically incorrect",
    ErrorKind.PROPERTY_CONSTRAINT: "Payload is syntactically correct but at least one field contains an invalid value",
    ErrorKind.OCCURRENCE_CONSTRAINT: "Payload for Action is syntactically correct but at least one of the "
    "fields violates occurrence constraints",
    ErrorKind.TYPE_CONSTRAINT: "Payload for Action is syntactically correct but at least one of the fields "
    "violates data type constraints",
    ErrorKind.GENERIC: "Any other error not covered by the previous ones",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "A message with a Message Type Number received that is not supported "
    "by this implementation",
    ErrorKind.RPC_FRAMEWORK: "Content of the call is not a valid RPC Request",
}


class RpcError(Exception):
    """An error to answer a charger's CALL with (or a charger's CallError to csms's call)."""

    def __init__(self, kind: ErrorKind, description: str | None = None, details: Mapping[str, Any] | None = None):
        self.kind = kind
        self.description = description or DEFAULT_DESCRIPTIONS[kind]
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.description)

    @classmethod
    def because(cls, kind: ErrorKind, cause: str) -> RpcError:
        """The kind's own description, with `cause` in the details as OCPP-J's examples put it."""
        return cls(kind, details={"cause": cause})


class ErrorSpelling:
    """How one OCPP version names each kind, and the kind of each name it defines."""

    def __init__(self, names: Mapping[ErrorKind, str]) -> None:
        self._names = dict(names)
        self.codes = frozenset(self._names.values())

    def code(self, kind: ErrorKind) -> str:
        return self._names[kind]


OCPP16_ERRORS = ErrorSpelling(
    {
        **{kind: kind.value for kind in ErrorKind},
        ErrorKind.FORMAT: "FormationViolation",
        ErrorKind.OCCURRENCE_CONSTRAINT: "OccurenceConstraintViolation",
        # 1.6 has neither; a frame that is not a valid RPC message is malformed.
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
        ErrorKind.RPC_FRAMEWORK: "FormationViolation",
    }
)
OCPP201_ERRORS = ErrorSpelling({kind: kind.value for kind in ErrorKind})
# OCPP-J 2.1 keeps 2.0.1's error codes, and uses them in a CALLRESULTERROR too.
OCPP21_ERRORS = OCPP201_ERRORS
