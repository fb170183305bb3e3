"""What csms asks of a charger, whatever OCPP version the charger speaks.

A `ChargerCommand` travels between nodes as it is; the node holding the charger's socket has the
charger's version package spell it as a call (`ocpp/v16/commands.py`, `ocpp/v201/commands.py`) and
read the answer back.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

# The type of an idToken csms hands out itself (the app's own tag): OCPP 2.0.1 IdTokenEnumType.
CENTRAL_ID_TYPE = "Central"
# The type of a token csms did not hand out and knows no type of: an RFID card, the commonest kind.
CARD_ID_TYPE = "ISO14443"
FULL = "Full"
# The kinds of connector a 2.x reservation may ask for (OCPP 2.0.1 ConnectorEnumType).
ConnectorType = Literal[
    "cCCS1", "cCCS2", "cG105", "cTesla", "cType1", "cType2", "s309-1P-16A", "s309-1P-32A", "s309-3P-16A",
    "s309-3P-32A", "sBS1361", "sCEE-7-7", "sType2", "sType3", "Other1PhMax16A", "Other1PhOver16A", "Other3Ph",
    "Pan", "wInductive", "wResonant", "Undetermined", "Unknown",
]  # fmt: skip
DIFFERENTIAL = "Differential"


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """Start charging on a connector (1.6) or EVSE (2.x) for a token; `remote_start_id` links the
    transaction the charger reports back to this request (2.x remoteStartId)."""

    kind: ClassVar[str] = "RemoteStart"
    connector_id: int
    id_token: str
    remote_start_id: int
    id_token_type: str = CENTRAL_ID_TYPE


@dataclass(frozen=True, slots=True)
class RemoteStop:
    """Stop a transaction: `transaction_id` is csms's record id (1.6's transactionId), `transaction_key`
    the charger's own id of it (2.x transactionId; None for a 1.6 transaction)."""

    kind: ClassVar[str] = "RemoteStop"
    transaction_id: int
    transaction_key: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """Give the charger a new Basic-auth password (security profiles 1 and 2); it counts once accepted."""

    kind: ClassVar[str] = "ChangePassword"
    password: str

    def __repr__(self) -> str:  # never in a log line
        return "ChangePassword(password=...)"


@dataclass(frozen=True, slots=True)
class ListedToken:
    """One token of a local authorization list: with its `status` it is (re)listed, without it removed.
    `group_id_token` is its group (1.6 parentIdTag, 2.x groupIdToken)."""

    id_token: str
    status: str | None = None
    expiry: datetime | None = None
    group_id_token: str | None = None
    id_token_type: str = CARD_ID_TYPE


@dataclass(frozen=True, slots=True)
class SendLocalList:
    """Give the charger version `version_number` of its local list: all of it (Full) or what changed
    (Differential). The answer's `status` is Accepted, Failed, VersionMismatch (or 1.6's NotSupported)."""

    kind: ClassVar[str] = "SendLocalList"
    version_number: int
    update_type: str
    entries: tuple[ListedToken, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class GetLocalListVersion:
    """Ask which version of its local list the charger holds; the answer's `versionNumber`."""

    kind: ClassVar[str] = "GetLocalListVersion"


@dataclass(frozen=True, slots=True)
class ReserveNow:
    """Hold a connector (1.6) or EVSE (2.x; 0: any, or any with a connector of `connector_type`) for a
    token until `expires_at`. `reservation_id` is csms's record of it; the answer's `status` is Accepted,
    Faulted, Occupied, Rejected or Unavailable."""

    kind: ClassVar[str] = "ReserveNow"
    reservation_id: int
    connector_id: int
    id_token: str
    expires_at: datetime
    group_id_token: str | None = None
    id_token_type: str = CENTRAL_ID_TYPE
    connector_type: str | None = None  # 2.x ConnectorEnumType


@dataclass(frozen=True, slots=True)
class CancelReservation:
    """Release a reservation; the answer's `status` is Accepted or Rejected."""

    kind: ClassVar[str] = "CancelReservation"
    reservation_id: int


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    """Fetch the image at `location` from `retrieve_at` on and install it; `request_id` is the rollout,
    which the charger's status notifications name. A signature and its certificate make it a signed update.
    The answer's `status` is None when the version's call has no answer to give (1.6 UpdateFirmware)."""

    kind: ClassVar[str] = "UpdateFirmware"
    request_id: int
    location: str
    retrieve_at: datetime
    retries: int | None = None
    retry_interval: int | None = None
    signing_certificate: str | None = None
    signature: str | None = None

    @property
    def is_signed(self) -> bool:
        return bool(self.signature and self.signing_certificate)


@dataclass(frozen=True, slots=True)
class UploadLog:
    """Upload a log to `location`: the charger's diagnostics (`log_type` None), or a DiagnosticsLog or
    SecurityLog, limited to [oldest, latest] when given. The answer's `status` (Accepted, AcceptedCanceled,
    Rejected, or NoDiagnostics when the charger has none) and `file_name`."""

    kind: ClassVar[str] = "UploadLog"
    request_id: int
    location: str
    log_type: str | None = None
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, slots=True)
class PublishFirmware:
    """Ask a local controller (2.x) to fetch the image at `location` and publish it to the stations behind
    it; `request_id` names the publication in its status notifications, `checksum` is the image's MD5."""

    kind: ClassVar[str] = "PublishFirmware"
    request_id: int
    location: str
    checksum: str
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, slots=True)
class UnpublishFirmware:
    """Ask a local controller to stop publishing the image with MD5 `checksum`; the answer's `status` is
    Unpublished, NoFirmware or PublishInProgress."""

    kind: ClassVar[str] = "UnpublishFirmware"
    checksum: str


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    """Ask the charger to send `requested_message` now (a BootNotification, a StatusNotification...);
    the answer's `status` is Accepted, Rejected or NotImplemented."""

    kind: ClassVar[str] = "TriggerMessage"
    requested_message: str


@dataclass(frozen=True, slots=True)
class RequestCustomerInformation:
    """Ask a 2.x station for what it keeps of a customer (`report`) and/or to delete it (`clear`); the
    customer is named by a token, a customer identifier or a certificate's hash data (hash_algorithm,
    issuer_name_hash, issuer_key_hash, serial_number). `request_id` names the station's
    NotifyCustomerInformation parts. The answer's `status` is Accepted, Rejected or Invalid."""

    kind: ClassVar[str] = "CustomerInformation"
    request_id: int
    report: bool
    clear: bool
    id_token: str | None = None
    id_token_type: str | None = None
    customer_identifier: str | None = None
    hash_algorithm: str | None = None
    issuer_name_hash: str | None = None
    issuer_key_hash: str | None = None
    serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class ShowDisplayMessage:
    """Put message `message_id` on a 2.x station's display, in `format` (ASCII, HTML, URI, UTF8) with a
    priority (AlwaysFront, InFront, NormalCycle), optionally only in a state, a time window or a
    transaction (the station's transactionId). The answer's `status` is Accepted or why not."""

    kind: ClassVar[str] = "ShowDisplayMessage"
    message_id: int
    content: str
    priority: str
    format: str = "UTF8"
    language: str | None = None
    state: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClearDisplayMessage:
    """Take message `message_id` off a 2.x station's display; the answer's `status` is Accepted or Unknown."""

    kind: ClassVar[str] = "ClearDisplayMessage"
    message_id: int


@dataclass(frozen=True, slots=True)
class SetMonitor:
    """Put a monitor on a variable of a 2.x station: `monitor_type` (UpperThreshold, LowerThreshold, Delta,
    Periodic, PeriodicClockAligned) at `value`, events of `severity` (0-9); `monitor_id` replaces that monitor,
    None lets the station number a new one. The answer's `status` (Accepted, UnknownComponent,
    UnknownVariable, UnsupportedMonitorType, Rejected, Duplicate) and the station's `monitor_id`."""

    kind: ClassVar[str] = "SetMonitor"
    component_name: str
    variable_name: str
    monitor_type: str
    value: float
    severity: int
    transaction: bool = False
    component_instance: str | None = None
    evse_id: int | None = None
    evse_connector_id: int | None = None
    variable_instance: str | None = None
    monitor_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClearMonitor:
    """Remove monitor `monitor_id` from a 2.x station; the answer's `status` is Accepted, Rejected or NotFound."""

    kind: ClassVar[str] = "ClearMonitor"
    monitor_id: int


@dataclass(frozen=True, slots=True)
class VariableRef:
    """One attribute of one variable of a 2.x station's device model; absent parts of the name are None."""

    component_name: str
    variable_name: str
    attribute_type: str = "Actual"
    component_instance: str | None = None
    evse_id: int | None = None
    evse_connector_id: int | None = None
    variable_instance: str | None = None


@dataclass(frozen=True, slots=True)
class VariableSetting:
    variable: VariableRef
    value: str


@dataclass(frozen=True, slots=True)
class SetVariables:
    """Set attributes of a 2.x station's device model in one call. The answer's `results`, one per variable
    with its VariableRef fields: `status` (Accepted, Rejected, RebootRequired, UnknownComponent,
    UnknownVariable, NotSupportedAttributeType), `reason_code` and `additional_info` (its statusInfo)."""

    kind: ClassVar[str] = "SetVariables"
    settings: tuple[VariableSetting, ...]


@dataclass(frozen=True, slots=True)
class GetVariables:
    """Read attributes of a 2.x station's device model. The answer's `results` as SetVariables', with the
    `value` the station gave when its status is Accepted."""

    kind: ClassVar[str] = "GetVariables"
    variables: tuple[VariableRef, ...]


@dataclass(frozen=True, slots=True)
class RequestBaseReport:
    """Ask a 2.x station for a report (NotifyReport parts to `request_id`) of `report_base`:
    FullInventory, ConfigurationInventory or SummaryInventory. The answer's `status`: Accepted, Rejected,
    NotSupported or EmptyResultSet."""

    kind: ClassVar[str] = "RequestBaseReport"
    request_id: int
    report_base: str = "FullInventory"


# Charging profile purposes, kinds and rate units: the names 1.6 and 2.0.1 share; a station maximum is
# 2.0.1's ChargingStationMaxProfile, which 1.6 calls ChargePointMaxProfile.
TX_DEFAULT_PROFILE = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
STATION_MAX_PROFILE = "ChargingStationMaxProfile"
PROFILE_PURPOSES = (TX_DEFAULT_PROFILE, TX_PROFILE, STATION_MAX_PROFILE)
# 2.x: a limit some system other than the CSMS put on the station; the station reports it, the CSMS never
# sets it (2.0.1 K01.FR.22).
EXTERNAL_CONSTRAINTS_PROFILE = "ChargingStationExternalConstraints"
EXTERNAL_CONSTRAINTS_REFUSAL = (
    "a ChargingStationExternalConstraints profile is set on the station by a system outside the CSMS and only"
    " reported by it: the CSMS shall not set one (OCPP 2.0.1 K01.FR.22); use ChargingStationMaxProfile,"
    " TxDefaultProfile or TxProfile"
)
PROFILE_KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCIES = ("Daily", "Weekly")
RATE_UNITS = ("A", "W")


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """From `start_period` seconds into the schedule on, at most `limit` (in the schedule's unit)."""

    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfileValue:
    """A charging profile as csms keeps it, whatever the version: `profile_id` is the charger's
    chargingProfileId; a TxProfile names its transaction by csms's id (`transaction_id`, 1.6's
    transactionId) and the station's own key (`transaction_key`, 2.x transactionId)."""

    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    charging_rate_unit: str
    periods: tuple[SchedulePeriod, ...]
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None
    transaction_key: str | None = None
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None

    def fields(self) -> dict[str, Any]:
        """As JSON fields (`profile_from` reads them back)."""
        fields = asdict(self)
        fields["periods"] = list(fields["periods"])
        return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in fields.items()}


def profile_from(fields: dict[str, Any]) -> ChargingProfileValue:
    """A profile from its JSON fields; KeyError or TypeError for fields that are not one."""
    times = {name: datetime.fromisoformat(fields[name]) for name in _PROFILE_TIMES if fields.get(name) is not None}
    periods = tuple(SchedulePeriod(**period) for period in fields["periods"])
    return ChargingProfileValue(**{**fields, **times, "periods": periods})


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    """Put a profile on a connector (1.6) or EVSE (2.x); 0 is the whole charger. The answer's `status` is
    Accepted or Rejected (1.6 also NotSupported)."""

    kind: ClassVar[str] = "SetChargingProfile"
    connector_id: int
    profile: ChargingProfileValue


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    """Clear the profile `profile_id`, or those the other criteria name; none clears every profile."""

    kind: ClassVar[str] = "ClearChargingProfile"
    profile_id: int | None = None
    connector_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class GetCompositeSchedule:
    """Ask what a connector (1.6) or EVSE (2.x; 0: the grid connection) will draw over the next `duration`
    seconds. The answer's `status` and `schedule` (None when rejected): connector_id, schedule_start,
    duration, charging_rate_unit and periods."""

    kind: ClassVar[str] = "GetCompositeSchedule"
    connector_id: int
    duration: int
    charging_rate_unit: str | None = None


@dataclass(frozen=True, slots=True)
class SetDefaultTariff:
    """Show csms's tariff `tariff_id` on the charger (or on `evse_id`; 0 the whole charger) as the price it
    tells drivers and costs locally with; the answer's `status`. Prices are net of tax, as decimal text,
    `tax_rate` a fraction (0.2 is 20 %). Only a version with tariffs on the charger (2.1) can say it."""

    kind: ClassVar[str] = "SetDefaultTariff"
    evse_id: int
    tariff_id: str
    name: str
    currency: str
    price_per_kwh: str
    price_per_charging_minute: str
    price_per_idle_minute: str
    session_fee: str
    tax_rate: str


ChargerCommand = (
    RemoteStart
    | RemoteStop
    | ChangePassword
    | SendLocalList
    | GetLocalListVersion
    | ReserveNow
    | CancelReservation
    | UpdateFirmware
    | UploadLog
    | TriggerMessage
    | PublishFirmware
    | UnpublishFirmware
    | RequestCustomerInformation
    | ShowDisplayMessage
    | ClearDisplayMessage
    | SetMonitor
    | ClearMonitor
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
    | SetDefaultTariff
    | SetVariables
    | GetVariables
    | RequestBaseReport
)
_PROFILE_TIMES = ("valid_from", "valid_to", "start_schedule")
_TIMES = ("expires_at", "retrieve_at", "oldest", "latest", "start_at", "end_at")  # datetime fields, ISO text on the bus


def new_remote_start_id() -> int:
    """A remoteStartId for one request: positive, fits the 32-bit integers of OCPP."""
    return 1 + secrets.randbelow(2**31 - 1)


_KINDS: dict[str, type[ChargerCommand]] = {kind.kind: kind for kind in get_args(ChargerCommand)}
# Commands share the bus with OCPP calls: a command's action is its kind behind this prefix, which no
# OCPP action name has.
COMMAND_PREFIX = "csms."


def command_action(command: ChargerCommand) -> str:
    return COMMAND_PREFIX + command.kind


def is_command_action(action: str) -> bool:
    return action.startswith(COMMAND_PREFIX)


def command_fields(command: ChargerCommand) -> dict[str, Any]:
    """The command as JSON fields for the bus (`command_from` reads them back)."""
    if isinstance(command, SendLocalList):
        entries = [_token_fields(entry) for entry in command.entries]
        return {"version_number": command.version_number, "update_type": command.update_type, "entries": entries}
    if isinstance(command, SetChargingProfile):
        return {"connector_id": command.connector_id, "profile": command.profile.fields()}
    fields = asdict(command)
    return {
        name: value.isoformat() if name in _TIMES and value is not None else value for name, value in fields.items()
    }


def command_from(action: str, fields: dict[str, Any]) -> ChargerCommand:
    """The command a bus message carries; ValueError for a kind or fields csms does not know."""
    kind = _KINDS.get(action.removeprefix(COMMAND_PREFIX))
    if kind is None or not is_command_action(action):
        raise ValueError(f"{action} is not a command csms knows")
    try:
        if kind is SendLocalList:
            return _send_local_list_from(fields)
        if kind is SetChargingProfile:
            return SetChargingProfile(int(fields["connector_id"]), profile_from(fields["profile"]))
        if kind is SetVariables:
            settings = fields["settings"]
            return SetVariables(tuple(VariableSetting(VariableRef(**s["variable"]), str(s["value"])) for s in settings))
        if kind is GetVariables:
            return GetVariables(tuple(VariableRef(**item) for item in fields["variables"]))
        times = {name: datetime.fromisoformat(fields[name]) for name in _TIMES if fields.get(name) is not None}
        return kind(**{**fields, **times})
    except (TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"invalid {action} fields: {error!r}") from None


def _token_fields(entry: ListedToken) -> dict[str, Any]:
    fields = asdict(entry)
    fields["expiry"] = entry.expiry.isoformat() if entry.expiry is not None else None
    return fields


def _send_local_list_from(fields: dict[str, Any]) -> SendLocalList:
    entries = []
    for listed in fields["entries"]:
        entry = dict(listed)
        expiry = entry.pop("expiry", None)
        entries.append(ListedToken(**entry, expiry=datetime.fromisoformat(expiry) if expiry is not None else None))
    return SendLocalList(int(fields["version_number"]), str(fields["update_type"]), tuple(entries))
