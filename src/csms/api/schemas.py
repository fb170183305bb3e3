"""Request and response bodies of the REST API."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ErrorBody(BaseModel):
    detail: str


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=256, examples=["alice"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery"])


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024, examples=["a new, long passphrase"])


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=1, max_length=1024, examples=["a new, long passphrase"])


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Access-token lifetime in seconds")
    id_tag: str = Field(alias="idTag", description="The OCPP idTag this account charges with")


TokenType = Literal["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress"]
_TYPE_DESCRIPTION = (
    "The OCPP 2.x idToken type it is presented with (ISO14443 for most RFID cards; the app's own token is "
    "Central): a 2.x station presenting it under another type is refused; null matches any (1.6 has no types)"
)


class IdTagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id_tag: str
    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None
    label: str | None
    vehicle_id: int | None
    type: str | None = Field(default=None, description=_TYPE_DESCRIPTION)


class AdminIdTagOut(IdTagOut):
    user_id: int | None
    username: str | None = Field(default=None, description="Its owner's, in listings; null for a card of no account")
    charging_priority: int = Field(description="Its weight on a site that shares power by priority")


class IdTagCreate(BaseModel):
    id_tag: str = Field(min_length=1, max_length=64, description="The card's idTag, OCPP CiString20")
    label: str | None = Field(default=None, max_length=64, examples=["Blue key fob"])
    vehicle_id: int | None = None
    type: TokenType | None = Field(default=None, description=_TYPE_DESCRIPTION)


class IdTagUpdate(BaseModel):
    label: str | None = Field(default=None, max_length=64)
    vehicle_id: int | None = None


class AdminIdTagCreate(IdTagCreate):
    user_id: int | None = None
    status: str = "Accepted"
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=64)


class AdminIdTagUpdate(BaseModel):
    type: TokenType | None = Field(default=None, description=_TYPE_DESCRIPTION + "; null: any")
    status: str | None = None
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=64)
    charging_priority: int | None = Field(
        default=None, ge=1, le=100, description="Its weight on a site sharing power by priority (1: everyone's)"
    )


class VehicleIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["Family car"])
    make: str | None = Field(default=None, max_length=64, examples=["Renault"])
    model: str | None = Field(default=None, max_length=64, examples=["Zoe"])
    plate: str | None = Field(default=None, max_length=16, examples=["AB-123-CD"])
    battery_capacity_kwh: Decimal | None = Field(default=None, gt=0, le=10000, decimal_places=2)

    @field_validator("battery_capacity_kwh")
    @classmethod
    def _two_decimals(cls, value: Decimal | None) -> Decimal | None:
        return value.quantize(Decimal("0.01")) if value is not None else None


class VehicleOut(VehicleIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class Me(BaseModel):
    id: int
    username: str
    role: str
    id_tags: list[IdTagOut]
    vehicles: list[VehicleOut]


class StartCharging(BaseModel):
    """Either `evse_id` and `connector_id`, or `qr`: the code scanned from the charger's sticker."""

    evse_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The charge point id", examples=["CP001"]
    )
    connector_id: int | None = Field(default=None, ge=1, le=1000, examples=[1])
    qr: str | None = Field(default=None, min_length=1, max_length=512, examples=["ocpp://CP001?connector=1"])

    @model_validator(mode="after")
    def _one_way_to_name_the_connector(self) -> StartCharging:
        if (self.by_id() is not None) == (self.qr is not None):
            raise ValueError("give either evse_id and connector_id, or qr")
        return self

    def by_id(self) -> tuple[str, int] | None:
        if self.evse_id is None or self.connector_id is None:
            return None
        return self.evse_id, self.connector_id


class PairRequest(BaseModel):
    qr: str = Field(min_length=1, max_length=512, examples=["ocpp://CP001?connector=1"])


class PairResult(BaseModel):
    charge_point_id: str
    connector_id: int
    status: str = Field(description="The connector's live status, or Unknown before the charger reported it")
    is_connected: bool
    is_signed: bool = Field(description="Whether the code carried a valid csms signature")
    start_refused: str | None = Field(
        default=None,
        description="Why a start here would be refused now (Faulted, Unavailable, in use), as start_charging says it",
    )


class StopCharging(BaseModel):
    transaction_id: int = Field(ge=1)


class ChargerAnswer(BaseModel):
    status: str = Field(description="The charger's answer: Accepted or Rejected", examples=["Accepted"])


class MeterValueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    timestamp: datetime
    value: str
    measurand: str
    unit: str | None
    phase: str | None
    context: str | None
    format: str | None = Field(default=None, description="1.6: Raw, or SignedData (the value is the signed data)")
    signed_meter_value: dict[str, Any] | None = Field(
        default=None, description="2.x: the signedMeterValue the station sent with the reading, as sent"
    )

    @field_validator("signed_meter_value", mode="before")
    @classmethod
    def _read_json(cls, kept: object) -> object:
        return json.loads(kept) if isinstance(kept, str) else kept


class TransactionOut(BaseModel):
    id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    user_id: int | None
    username: str | None = Field(default=None, description="The account's username, in the admin listing")
    start_timestamp: datetime
    stop_timestamp: datetime | None
    meter_start: int
    meter_stop: int | None
    stop_reason: str | None
    vehicle_id: int | None
    energy_wh: int = Field(description="Never negative: a meter that went backwards books none")
    energy_kwh: Decimal
    duration_seconds: int | None
    is_active: bool = Field(description="Open, and its start was Accepted: charging now")
    id_tag_status: str = Field(description="What csms answered the StartTransaction: Accepted, ConcurrentTx...")
    closed_by: str | None = Field(
        default=None, description="charger (its StopTransaction), superseded or staff; null while open"
    )
    meter_went_backwards: bool = Field(
        default=False, description="A reading or meterStop below an earlier one; the readings are kept as sent"
    )
    is_stale: bool = Field(default=False, description="Open with no message for CSMS_STALE_TRANSACTION_AFTER")
    stale_since: datetime | None = None
    meter_values: list[MeterValueOut] | None = None
    cost: Decimal | None = Field(
        default=None, description="Total with tax (so far, while active), exact to the cent; null without a tariff"
    )
    currency: str | None = None
    evse_id: int | None = Field(default=None, description="The EVSE it ran on; for OCPP 1.6 the connector id")
    transaction_key: str | None = Field(
        default=None, description="A 2.x charger's own transactionId; null for OCPP 1.6, whose id is `id`"
    )
    cost_breakdown: dict[str, Any] | None = Field(
        default=None, description="energy, charging_time, idle_time, session_fee, net, tax, total and the slices"
    )
    allowed_current_a: float | None = Field(
        default=None,
        description="While it runs on a site: the current per phase csms lets it draw now (0: waiting for power)",
    )
    allowed_power_w: float | None = Field(
        default=None, description="The same as power: allowed_current_a * the site's phases * 230 V"
    )


class TransactionClose(BaseModel):
    """Staff closing a transaction its charger never stopped; by default with the last meter reading."""

    meter_stop: int | None = Field(default=None, ge=0, le=2**31 - 1, description="Wh; default: the last reading")
    stop_timestamp: datetime | None = Field(default=None, description="Default: the time of the last reading")


_REGISTERED_SERIAL = (
    "The charger's serial number as the operator knows it (1 to 64 characters, unique across chargers): "
    "what its client certificate names with CSMS_CHARGER_CERTIFICATE_IDENTITY=serial_number"
)


_BOOT_ANSWER = (
    "What csms answers its BootNotification: Accepted; Pending (csms may call it, e.g. to provision it, and "
    "refuses its own calls with SecurityError); Rejected (csms neither calls it nor answers more than a boot)"
)


class ChargerCreate(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=64, examples=["CP001"])
    password: str = Field(min_length=1, max_length=256, description="16 to 40 characters, for HTTP Basic auth")
    registered_serial_number: str | None = Field(
        default=None, min_length=1, max_length=64, description=_REGISTERED_SERIAL, examples=["SN-0042"]
    )
    boot_answer: Literal["Accepted", "Pending", "Rejected"] = Field(
        default="Accepted",
        description=_BOOT_ANSWER + "; Pending holds a new charger until an operator accepts it (PATCH)",
    )


class ChargerUpdate(BaseModel):
    """The fields given are changed; those left out stay as they are."""

    file_transfer: Literal["auto", "http", "ftp", "ftps"] | None = Field(
        default=None,
        description="How its firmware and diagnostics links are served: http, ftp, ftps, or auto "
        "(http until a quickly failed HTTP transfer or an FTP-only vendor says ftp); setting it forgets "
        "what auto learned",
    )
    registered_serial_number: str | None = Field(
        default=None, min_length=1, max_length=64, description=f"{_REGISTERED_SERIAL}; null forgets it"
    )
    boot_answer: Literal["Accepted", "Pending", "Rejected"] | None = Field(
        default=None, description=_BOOT_ANSWER + "; from its next BootNotification on"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> ChargerUpdate:
        if not self.model_fields_set:
            raise ValueError("give file_transfer, registered_serial_number, boot_answer or several")
        for name in ("file_transfer", "boot_answer"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ConnectorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    connector_id: int
    status: str
    error_code: str | None = Field(description="The 1.6 errorCode; null from a 2.x station, which sends none")
    info: str | None
    vendor_error_code: str | None
    status_at: datetime
    evse_id: int | None = Field(
        default=None, description="The EVSE it belongs to; for OCPP 1.6 the connector id (0: the charger itself)"
    )
    evse_connector_id: int | None = Field(
        default=None, description="Its number on the EVSE; 1 for OCPP 1.6, null for connector 0"
    )
    availability: str | None = Field(
        default=None, description="Operative or Inoperative; for OCPP 1.6 read from the status"
    )


class ChargerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    charge_point_id: str
    ocpp_version: str | None = Field(
        default=None, description="The OCPP version it last booted with, 1.6, 2.0.1 or 2.1; null before its first boot"
    )
    vendor: str | None
    model: str | None
    serial_number: str | None = Field(
        description="The chargePointSerialNumber of its last boot: reported, not vouched for"
    )
    registered_serial_number: str | None = Field(default=None, description=_REGISTERED_SERIAL)
    charge_box_serial_number: str | None
    firmware_version: str | None
    meter_type: str | None
    meter_serial_number: str | None
    registration_status: str | None = Field(description="What csms answered its last BootNotification")
    boot_answer: str = Field(default="Accepted", description=_BOOT_ANSWER)
    is_connected: bool
    connected_at: datetime | None
    disconnected_at: datetime | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    firmware_status: str | None
    diagnostics_status: str | None
    file_transfer: str = "auto"
    file_transfer_learned: str | None = None
    # Connections below security_profile are refused; connections above security_profile_allowed (the
    # operator's decision) do not raise it.
    security_profile: int | None = None
    security_profile_allowed: int | None = None
    created_at: datetime
    connectors: list[ConnectorOut] = []
    site_id: int | None = Field(default=None, description="The site it is on (load management), if any")
    site_name: str | None = None


class SettlementOut(BaseModel):
    """An OCPP 2.1 NotifySettlement: what the charger's payment terminal settled (ad hoc payment)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    transaction_id: int | None = Field(description="csms's transaction of the station's transactionId, if known")
    transaction_key: str | None = Field(description="The station's own transactionId")
    psp_ref: str = Field(description="The payment service provider's reference")
    status: str = Field(description="Settled, Canceled, Rejected or Failed")
    amount: Decimal
    settled_at: datetime
    reason_code: str | None
    receipt_id: str | None
    receipt_url: str | None
    vat_number: str | None
    vat_company: str | None = Field(description="The company address of the VAT number, JSON as the station sent it")
    received_at: datetime


class OcppMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    message_type: int | None
    unique_id: str | None
    action: str | None
    ocpp_version: str | None = Field(
        description="The OCPP version of the frame's connection (null: logged before csms kept it)"
    )
    # The frame's first bytes (CSMS_MESSAGE_LOG_MAX_FRAME_BYTES) when frame_bytes, its whole size, is more.
    frame: str
    frame_bytes: int | None
    created_at: datetime


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: str
    is_active: bool
    created_at: datetime


class UserUpdate(BaseModel):
    role: str | None = Field(default=None, pattern="^(user|admin|root)$")
    is_active: bool | None = None


class ChargerCountsOut(BaseModel):
    total: int
    online: int = Field(description="Connected now")
    offline: int
    charging: int = Field(description="Connected, with at least one connector reporting Charging")
    faulted: int = Field(description="Connected, with a connector (or the charger itself) reporting Faulted")
    unavailable: int = Field(description="Connected, with a connector (or the charger itself) Unavailable")


class EnergyDayOut(BaseModel):
    day: date = Field(description="The local day, in the time zone asked for")
    energy_wh: int = Field(description="Energy of the sessions that started that day (so far, if still running)")
    sessions: int
