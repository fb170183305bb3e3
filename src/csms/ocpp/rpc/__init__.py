"""csms's own OCPP-J core, the same for every OCPP version: frames, calls, errors, schemas."""

from csms.ocpp.rpc.errors import OCPP16_ERRORS, OCPP21_ERRORS, OCPP201_ERRORS, ErrorKind, ErrorSpelling, RpcError
from csms.ocpp.rpc.frames import MAX_UNIQUE_ID_LENGTH, FrameError, parse_frame
from csms.ocpp.rpc.messages import (
    CORE_MESSAGE_TYPES,
    Call,
    CallError,
    CallResult,
    CallResultError,
    MessageType,
    Payload,
    Send,
)
from csms.ocpp.rpc.schemas import SchemaSet
from csms.ocpp.rpc.session import (
    CHARGER_CALL,
    CSMS_CALL,
    INCOMING,
    OUTGOING,
    CallNotSent,
    ChargerCallError,
    Connection,
    Handler,
    OcppVersion,
    RpcLimits,
    RpcObserver,
    RpcSession,
)

__all__ = [
    "CHARGER_CALL",
    "CORE_MESSAGE_TYPES",
    "CSMS_CALL",
    "INCOMING",
    "MAX_UNIQUE_ID_LENGTH",
    "OCPP16_ERRORS",
    "OCPP21_ERRORS",
    "OCPP201_ERRORS",
    "OUTGOING",
    "Call",
    "CallError",
    "CallNotSent",
    "CallResult",
    "CallResultError",
    "ChargerCallError",
    "Connection",
    "ErrorKind",
    "ErrorSpelling",
    "FrameError",
    "Handler",
    "MessageType",
    "OcppVersion",
    "Payload",
    "RpcError",
    "RpcLimits",
    "RpcObserver",
    "RpcSession",
    "SchemaSet",
    "Send",
    "parse_frame",
]
