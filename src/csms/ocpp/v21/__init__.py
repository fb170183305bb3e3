"""OCPP 2.1: the version csms speaks as `ocpp2.1`.

It reuses 2.0.1 and overrides only what differs: its own schema set (the `ocpp` package's v21 schema
files), the message types OCPP-J 2.1 adds (CALLRESULTERROR and SEND), the actions 2.1 adds, and a
station (`Station21`) that serves the 2.0.1 handlers and those of 2.1's new messages. csms's commands
are spelled as in 2.0.1: none of the calls csms sends gained a required field in 2.1.
"""

from __future__ import annotations

from ocpp.v21.enums import Action

from csms.ocpp import v201
from csms.ocpp.rpc import CORE_MESSAGE_TYPES, OCPP21_ERRORS, MessageType, OcppVersion, SchemaSet
from csms.ocpp.v21.station import HANDLERS, SEND_HANDLERS, Station21

# The package's Action lists the CALLs; NotifyPeriodicEventStream is 2.1's one SEND message.
ALL_ACTIONS = frozenset(action.value for action in Action) | SEND_HANDLERS.keys()
# 2.1's own station messages csms does not answer yet, beside 2.0.1's.
STATION_ACTIONS = v201.STATION_ACTIONS | HANDLERS.keys() | SEND_HANDLERS.keys()
CENTRAL_SYSTEM_ACTIONS = (ALL_ACTIONS - STATION_ACTIONS) | {"DataTransfer"}

OCPP21 = OcppVersion(
    name="2.1",
    subprotocol="ocpp2.1",
    schemas=SchemaSet.of_package("v21", request_suffix="Request"),
    errors=OCPP21_ERRORS,
    actions=ALL_ACTIONS,
    handlers=HANDLERS,
    send_handlers=SEND_HANDLERS,
    message_types=CORE_MESSAGE_TYPES | {MessageType.CALL_RESULT_ERROR, MessageType.SEND},
)

__all__ = ["CENTRAL_SYSTEM_ACTIONS", "OCPP21", "Station21"]
