"""OCPP 2.0.1: the version csms speaks as `ocpp2.0.1`."""

from __future__ import annotations

from ocpp.v201.enums import Action

from csms.ocpp.rpc import OCPP201_ERRORS, OcppVersion, SchemaSet
from csms.ocpp.v201.station import HANDLERS, Station201

ALL_ACTIONS = frozenset(action.value for action in Action)
# The station's calls are those csms answers (DataTransfer goes both ways), and the CSMS sends the rest
# but for the station's notifications csms does not answer yet.
STATION_ACTIONS = frozenset(
    {
        "ClearedChargingLimit",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "LogStatusNotification",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SignCertificate",
    }
    | HANDLERS.keys()
)
CENTRAL_SYSTEM_ACTIONS = (ALL_ACTIONS - STATION_ACTIONS) | {"DataTransfer"}

OCPP201 = OcppVersion(
    name="2.0.1",
    subprotocol="ocpp2.0.1",
    schemas=SchemaSet.of_package("v201", request_suffix="Request"),
    errors=OCPP201_ERRORS,
    actions=ALL_ACTIONS,
    handlers=HANDLERS,
)

__all__ = ["CENTRAL_SYSTEM_ACTIONS", "OCPP201", "STATION_ACTIONS", "Station201"]
