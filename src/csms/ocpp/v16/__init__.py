"""OCPP 1.6J (with the 1.6 security whitepaper's messages): the version csms speaks as `ocpp1.6`."""

from __future__ import annotations

from ocpp.v16.enums import Action

from csms.ocpp.rpc import OCPP16_ERRORS, OcppVersion, SchemaSet
from csms.ocpp.v16.station import HANDLERS, Station16

ALL_ACTIONS = frozenset(action.value for action in Action)
# DataTransfer goes both ways; every other action is the charger's or the central system's.
CENTRAL_SYSTEM_ACTIONS = ALL_ACTIONS - (HANDLERS.keys() - {"DataTransfer"})

OCPP16 = OcppVersion(
    name="1.6",
    subprotocol="ocpp1.6",
    schemas=SchemaSet.of_package("v16", request_suffix=""),
    errors=OCPP16_ERRORS,
    actions=ALL_ACTIONS,
    handlers=HANDLERS,
)

__all__ = ["CENTRAL_SYSTEM_ACTIONS", "OCPP16", "Station16"]
