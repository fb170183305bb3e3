"""The tables csms keeps. Times are stored and returned as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    exists,
    false,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

from csms.db.database_time import database_now

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that is always aware UTC, also on SQLite, which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class AuthSession(Base):
    """One login: the family of refresh tokens it hands out. Revoking it ends every token of the family."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class IdempotentRequest(Base):
    """The answer given to a request carrying an Idempotency-Key, replayed when it is retried."""

    __tablename__ = "idempotent_requests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    make: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(16))
    battery_capacity_kwh: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    created_at: Mapped[datetime]
    # Its weight when a site shares power by priority (a fleet vehicle: more than 1); set by an operator.
    charging_priority: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


# The longest token of any OCPP version csms speaks: the 2.0.1 IdToken (1.6's idTag is CiString20).
ID_TOKEN_LENGTH = 36


class IdTag(Base):
    """An OCPP idTag (1.6) or idToken (2.x): the app's own token of an account, or an RFID card."""

    __tablename__ = "id_tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    id_tag: Mapped[str] = mapped_column(String(ID_TOKEN_LENGTH), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id", ondelete="SET NULL"))
    label: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expiry_date: Mapped[datetime | None]
    parent_id_tag: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))
    created_at: Mapped[datetime]
    # The 2.x IdTokenEnumType (ISO14443, eMAID, Central, ...); None for a 1.6 idTag, which has no type.
    type: Mapped[str | None] = mapped_column(String(20))
    # Its weight when a site shares power by priority (as Vehicle.charging_priority; the higher one counts).
    charging_priority: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ChargerConnection(Base):
    """A charger's live WebSocket on a node, with the lease that node renews (ocpp/presence.py).

    One row per socket, never updated but for its lease: a connect inserts one, a disconnect deletes
    only its own, so an older socket's disconnect never undoes a newer connect. Of a charger's rows
    the one with the highest `sequence` (from the database, never reused) owns the charger.
    """

    __tablename__ = "charger_connections"
    __table_args__ = (
        Index("ix_charger_connections_charger", "charge_point_id", "sequence"),
        {"sqlite_autoincrement": True},
    )

    sequence: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(32), index=True)
    connection_id: Mapped[str] = mapped_column(String(32), unique=True)
    connected_at: Mapped[datetime]
    # In the database's time (db/database_time.py): a row past it belongs to a node that stopped renewing.
    lease_until: Mapped[datetime] = mapped_column(index=True)


class Charger(Base):
    __tablename__ = "chargers"
    __table_args__ = (Index("ix_chargers_registered_serial_number", "registered_serial_number", unique=True),)

    charge_point_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # The OCPP version it last booted with ("1.6", "2.0.1"); None until its first boot.
    ocpp_version: Mapped[str | None] = mapped_column(String(8))
    # 2.0.1's vendorName has up to 50 characters, 1.6's chargePointVendor 20.
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(20))
    # What its last BootNotification reported (chargePointSerialNumber): data, never an identity.
    serial_number: Mapped[str | None] = mapped_column(String(25))
    # The serial an operator registered: what its certificate names in serial_number identity mode.
    registered_serial_number: Mapped[str | None] = mapped_column(String(64))
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(25))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    iccid: Mapped[str | None] = mapped_column(String(20))
    imsi: Mapped[str | None] = mapped_column(String(20))
    meter_type: Mapped[str | None] = mapped_column(String(25))
    meter_serial_number: Mapped[str | None] = mapped_column(String(25))
    # What csms answered its last BootNotification, and what it is to answer (the operator's choice).
    registration_status: Mapped[str | None] = mapped_column(String(16))
    boot_answer: Mapped[str] = mapped_column(String(16), default="Accepted", server_default="Accepted")
    last_boot_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    # Before 0014 the node's own idea of connected; no longer read (dropped in a later migration).
    connected_flag_before_0014: Mapped[bool] = mapped_column("is_connected", Boolean, default=False)
    # Whether a node holds a socket of it under a lease that has not run out (ChargerConnection).
    is_connected: Mapped[bool] = column_property(
        exists()
        .where(
            ChargerConnection.charge_point_id == charge_point_id,
            ChargerConnection.lease_until > database_now(),
        )
        .correlate_except(ChargerConnection)
    )
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    firmware_status: Mapped[str | None] = mapped_column(String(32))
    firmware_status_at: Mapped[datetime | None]
    diagnostics_status: Mapped[str | None] = mapped_column(String(32))
    diagnostics_status_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The highest OCPP security profile it has connected with (1-3), at most security_profile_allowed;
    # connections below it are refused.
    security_profile: Mapped[int | None] = mapped_column(Integer)
    # The highest profile an operator has moved it to (ChangeConfiguration SecurityProfile, or set directly):
    # a connection above it is served but never raises security_profile (services/security_profiles.py).
    security_profile_allowed: Mapped[int | None] = mapped_column(Integer)
    # Until when csms signs one CSR of this charger (after its ExtendedTriggerMessage, or an operator's window).
    certificate_request_until: Mapped[datetime | None]
    # How its firmware and diagnostics links are served: auto, http, ftp or ftps (services/file_transfer.py);
    # for auto, what a quickly failed HTTP transfer taught csms (ftp), else None.
    file_transfer: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    file_transfer_learned: Mapped[str | None] = mapped_column(String(8))


class Connector(Base):
    """The latest known status of one connector (connector 0 is the charger itself).

    `connector_id` is the key csms has always used: 1.6's connectorId. A 2.x station names a connector
    by EVSE and the connector on it (evse_id, evse_connector_id); for 1.6 each connectorId is an EVSE
    with one connector, and connector 0 is EVSE 0 (the station) with none.
    """

    __tablename__ = "connectors"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(32))
    # None from a 2.x StatusNotification, which carries no error code.
    error_code: Mapped[str | None] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime]
    evse_id: Mapped[int | None] = mapped_column(Integer)
    evse_connector_id: Mapped[int | None] = mapped_column(Integer)
    # Operative or Inoperative. 1.6 reports none of its own: csms reads it from the status
    # (Unavailable is Inoperative); 2.x reports it beside the status.
    availability: Mapped[str | None] = mapped_column(String(16))


class StatusNotification(Base):
    """Every StatusNotification a charger sent: the history of its connectors."""

    __tablename__ = "status_notifications"
    __table_args__ = (Index("ix_status_notifications_charger_time", "charge_point_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime]


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        # One row per start: a charger repeating a StartTransaction gets the first one's id (services/transactions.py).
        Index(
            "ux_transactions_start",
            "charge_point_id",
            "connector_id",
            "start_timestamp",
            "id_tag",
            "meter_start",
            unique=True,
        ),
        Index("ix_transactions_id_tag_open", "id_tag", "stop_timestamp"),
        # The stale-transaction sweep finds the open ones (stop_timestamp NULL) without a scan.
        Index("ix_transactions_stop_timestamp", "stop_timestamp"),
        # A 2.x charger's own transactionId names one transaction of that charger.
        Index(
            "ux_transactions_key",
            "charge_point_id",
            "transaction_key",
            unique=True,
            sqlite_where=text("transaction_key IS NOT NULL"),
            postgresql_where=text("transaction_key IS NOT NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    # Never reused, also after a restart: SQLite AUTOINCREMENT, a sequence elsewhere.
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(ID_TOKEN_LENGTH))
    id_tag_status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id", ondelete="SET NULL"), index=True)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    meter_start: Mapped[int] = mapped_column(BigInteger)
    start_timestamp: Mapped[datetime]
    meter_stop: Mapped[int | None] = mapped_column(BigInteger)
    # The newest energy register reading (Wh) seen in MeterValues, for "energy so far".
    meter_last_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_last_at: Mapped[datetime | None]
    stop_timestamp: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_id_tag: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))
    created_at: Mapped[datetime]
    # Who closed it: "charger" (its StopTransaction), "superseded" (a new start, Available or a boot
    # on its connector showed it over) or "staff"; None while open. A late StopTransaction corrects
    # a record csms closed (services/open_transactions.py).
    closed_by: Mapped[str | None] = mapped_column(String(16))
    # A reading (or meterStop) below an earlier one: kept as sent, but no negative energy is booked.
    meter_went_backwards: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set by the stale-transaction sweep: open, and no message about it for CSMS_STALE_TRANSACTION_AFTER.
    stale_since: Mapped[datetime | None]
    # `id` stays the REST id, the foreign-key target and the 1.6 transactionId csms hands out; a 2.x
    # charger names its transactions itself: that string is transaction_key (None for 1.6).
    transaction_key: Mapped[str | None] = mapped_column(String(36))
    # The EVSE it ran on: connector_id for 1.6.
    evse_id: Mapped[int | None] = mapped_column(Integer)
    # The 2.x idToken's type; None for a 1.6 idTag.
    id_token_type: Mapped[str | None] = mapped_column(String(20))
    # 2.x chargingState (Charging, EVConnected, SuspendedEV, SuspendedEVSE, Idle) as last reported.
    charging_state: Mapped[str | None] = mapped_column(String(16))
    # The remoteStartId of the RequestStartTransaction that began it, if one did.
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    # The highest TransactionEvent seqNo received, to find gaps.
    last_seq_no: Mapped[int | None] = mapped_column(Integer)


class TransactionEvent(Base):
    """One 2.x TransactionEvent of a transaction, kept as received: its history, offline replays included."""

    __tablename__ = "transaction_events"
    # A charger replaying an event it got no answer to sends the same seqNo: it is stored once.
    __table_args__ = (Index("ux_transaction_events_seq_no", "transaction_id", "seq_no", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id", ondelete="CASCADE"))
    seq_no: Mapped[int] = mapped_column(Integer)
    # Started, Updated or Ended.
    event_type: Mapped[str] = mapped_column(String(8))
    trigger_reason: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime]
    # Sent late: the charger queued it while the connection was down.
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    charging_state: Mapped[str | None] = mapped_column(String(16))
    stopped_reason: Mapped[str | None] = mapped_column(String(32))
    # The request's payload as the charger sent it (JSON).
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class MeterValue(Base):
    """One sampled value; a MeterValues message with several values yields several rows."""

    __tablename__ = "meter_values"
    __table_args__ = (Index("ix_meter_values_transaction_time", "transaction_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id", ondelete="SET NULL"))
    timestamp: Mapped[datetime]
    # As sent: a number, or a 1.6 SignedData blob.
    value: Mapped[str] = mapped_column(Text)
    measurand: Mapped[str] = mapped_column(String(64), default="Energy.Active.Import.Register")
    unit: Mapped[str | None] = mapped_column(String(20))
    phase: Mapped[str | None] = mapped_column(String(8))
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(16))
    # A 2.x sampled value's signedMeterValue as the station sent it, JSON.
    signed_meter_value: Mapped[str | None] = mapped_column(Text)


class DataTransferMessage(Base):
    __tablename__ = "data_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]


class Settlement(Base):
    """An OCPP 2.1 NotifySettlement: a payment terminal's settlement of a transaction (ad hoc payment)."""

    __tablename__ = "settlements"
    __table_args__ = (Index("ix_settlements_charger_id", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    # The transaction csms has of the station's transactionId, when it has one.
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id", ondelete="SET NULL"))
    transaction_key: Mapped[str | None] = mapped_column(String(36))
    psp_ref: Mapped[str] = mapped_column(String(255))
    # Settled, Canceled, Rejected or Failed.
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    settled_at: Mapped[datetime]
    reason_code: Mapped[str | None] = mapped_column(String(20))
    receipt_id: Mapped[str | None] = mapped_column(String(50))
    receipt_url: Mapped[str | None] = mapped_column(String(2000))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    # The company's address the VAT number belongs to, JSON as the station sent it.
    vat_company: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]


class ChargerEvent(Base):
    """Firmware and diagnostics progress reported by a charger, in order of arrival."""

    __tablename__ = "charger_events"
    __table_args__ = (Index("ix_charger_events_charger_time", "charge_point_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]


class OcppMessage(Base):
    """One OCPP-J frame in or out, kept for the operator's message log."""

    __tablename__ = "ocpp_messages"
    __table_args__ = (Index("ix_ocpp_messages_charger_id", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key: frames of refused or since-deleted chargers are kept too.
    charge_point_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    message_type: Mapped[int | None] = mapped_column(Integer)
    unique_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    # The version the frame's connection agreed on; NULL for frames logged before csms recorded it.
    ocpp_version: Mapped[str | None] = mapped_column(String(8))
    # At most the message log's limit of the frame's first bytes; frame_bytes is the whole frame's size.
    frame: Mapped[str] = mapped_column(Text)
    frame_bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ChargerConfigurationKey(Base):
    """A configuration key as the charger last reported it in a GetConfiguration answer."""

    __tablename__ = "charger_configuration_keys"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(500))
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class DeviceModelVariable(Base):
    """One attribute of a variable of a 2.x station's device model, as NotifyReport or GetVariables last
    told it: the 2.x counterpart of the 1.6 configuration keys.

    Absent parts of the key are not NULL, so that the natural key is a plain unique index on both
    databases: no instance is '', no EVSE is evse_id 0, no connector is evse_connector_id 0.
    """

    __tablename__ = "device_model_variables"
    __table_args__ = (
        Index(
            "ux_device_model_variables_attribute",
            "charge_point_id",
            "component_name",
            "component_instance",
            "evse_id",
            "evse_connector_id",
            "variable_name",
            "variable_instance",
            "attribute_type",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    component_name: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evse_connector_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    variable_name: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    # Actual, Target, MinSet or MaxSet.
    attribute_type: Mapped[str] = mapped_column(String(8), default="Actual", server_default="Actual")
    value: Mapped[str | None] = mapped_column(Text)
    # ReadOnly, WriteOnly or ReadWrite.
    mutability: Mapped[str | None] = mapped_column(String(10))
    # Whether the value survives a reboot, and whether it never changes; NULL when no report said.
    persistent: Mapped[bool | None] = mapped_column(Boolean)
    constant: Mapped[bool | None] = mapped_column(Boolean)
    data_type: Mapped[str | None] = mapped_column(String(16))
    # The variable's characteristics as reported (unit, minLimit, maxLimit, valuesList, ...), JSON.
    characteristics: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class LocalListEntry(Base):
    """One idTag in a charger's local authorization list, as csms last sent it."""

    __tablename__ = "local_list_entries"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    id_tag: Mapped[str] = mapped_column(String(ID_TOKEN_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    expiry_date: Mapped[datetime | None]
    parent_id_tag: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))


class LocalListState(Base):
    """The version of the local list a charger holds, as its last accepted SendLocalList set it."""

    __tablename__ = "local_list_states"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    list_version: Mapped[int] = mapped_column(Integer)
    reported_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class Reservation(Base):
    """A connector held for an idTag until `expires_at`; its id is the OCPP reservationId."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_charger_connector", "charge_point_id", "connector_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)  # 0: any (2.x: any EVSE, of `connector_type` if set)
    connector_type: Mapped[str | None] = mapped_column(String(20))
    id_tag: Mapped[str] = mapped_column(String(ID_TOKEN_LENGTH))
    parent_id_tag: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChargingProfile(Base):
    """A charging profile a charger accepted in SetChargingProfile, kept until it is cleared or replaced:
    on a connector (1.6) or EVSE (2.x), `profile` csms's neutral form of it (JSON)."""

    __tablename__ = "charging_profiles"
    __table_args__ = (Index("ix_charging_profiles_charger_connector", "charge_point_id", "connector_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    charging_profile_id: Mapped[int] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # A TxProfile's transaction: csms's id and a 2.x station's key of it, when known.
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    transaction_key: Mapped[str | None] = mapped_column(String(36))


class ReportedChargingProfile(Base):
    """A profile a 2.0.1 station listed in ReportChargingProfiles (its answer to GetChargingProfiles)."""

    __tablename__ = "reported_charging_profiles"
    __table_args__ = (Index("ix_reported_charging_profiles_charger", "charge_point_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(Integer)
    evse_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))
    charging_profile_id: Mapped[int] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(40))
    profile: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class ChargingLimit(Base):
    """An external limit a 2.0.1 station reported (NotifyChargingLimit), until it reports it cleared."""

    __tablename__ = "charging_limits"
    __table_args__ = (Index("ix_charging_limits_charger", "charge_point_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    evse_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))
    is_grid_critical: Mapped[bool | None] = mapped_column(Boolean)
    schedules: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class EvChargingReport(Base):
    """What a 2.0.1 station told of the EV on an EVSE: its charging needs or the schedule it chose."""

    __tablename__ = "ev_charging_reports"
    __table_args__ = (Index("ix_ev_charging_reports_charger", "charge_point_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    evse_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    energy_transfer: Mapped[str | None] = mapped_column(String(32))
    departure_time: Mapped[datetime | None]
    details: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class StoredFile(Base):
    """A firmware image an operator uploaded or a diagnostics file a charger uploaded."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(50))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    charge_point_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FirmwareRollout(Base):
    """One firmware image sent to a set of chargers with UpdateFirmware."""

    __tablename__ = "firmware_rollouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    retrieve_date: Mapped[datetime]
    retries: Mapped[int | None] = mapped_column(Integer)
    retry_interval: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # Set for SignedUpdateFirmware: the manufacturer's signing certificate (PEM) and signature (Base64).
    signing_certificate: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)


class FirmwareUpdate(Base):
    """One charger's progress in a rollout: the answer to UpdateFirmware, then its status notifications."""

    __tablename__ = "firmware_updates"
    __table_args__ = (Index("ix_firmware_updates_charger", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("firmware_rollouts.id", ondelete="CASCADE"), index=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(255))
    reported_version: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime]
    # The scheme of the link the charger was sent: http, ftp or ftps.
    transfer_scheme: Mapped[str | None] = mapped_column(String(8))


class FirmwarePublication(Base):
    """A firmware image a local controller was asked to publish to the stations behind it (2.0.1 L03,
    PublishFirmware); its id is the requestId, and its status the answer, then the controller's reports."""

    __tablename__ = "firmware_publications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), index=True)
    checksum: Mapped[str] = mapped_column(String(32))  # MD5, hexadecimal, as PublishFirmware carries it
    status: Mapped[str] = mapped_column(String(32))
    # The locations the controller publishes the image at (PublishFirmwareStatusNotification, Published), JSON.
    published_locations: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DiagnosticsRequest(Base):
    """A GetDiagnostics sent to a charger, the upload link it got, and what came of it."""

    __tablename__ = "diagnostics_requests"
    __table_args__ = (Index("ix_diagnostics_requests_charger", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set for GetLog (DiagnosticsLog or SecurityLog); None for GetDiagnostics.
    log_type: Mapped[str | None] = mapped_column(String(32))
    # The scheme of the upload link the charger was sent: http, ftp or ftps.
    transfer_scheme: Mapped[str | None] = mapped_column(String(8))


class SecurityEvent(Base):
    """Something security-relevant, such as a refused or throttled charger connection."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_created", "created_at"),
        Index("ix_security_events_recorded", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="csms")
    kind: Mapped[str] = mapped_column(String(64))
    charge_point_id: Mapped[str | None] = mapped_column(String(64), index=True)
    remote_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    # Repeated connection attempts are kept as one row per period: how many this row stands for.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # When it happened: for a charger's own event, the charger's timestamp, which may be years off.
    created_at: Mapped[datetime]
    # When csms recorded it: what retention judges. The default serves rows held in a write journal
    # by an older csms, which did not know this column.
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())


class AuditRecord(Base):
    """An operator's change: who, what, when, from where. Kept when the account is deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status_code: Mapped[int] = mapped_column(Integer)
    remote_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ChargerCommandRecord(Base):
    """A call to a charger, as one node saw it: the node that carried it out (who asked, from which node,
    what the charger answered), or the node that asked and got no answer through the bus in time."""

    __tablename__ = "charger_commands"
    __table_args__ = (Index("ix_charger_commands_charger_created", "charge_point_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    command_id: Mapped[str] = mapped_column(String(32), index=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(160))
    origin_node: Mapped[str] = mapped_column(String(32))
    # The node that wrote this row: the one holding the charger's socket, or the asking one.
    node: Mapped[str] = mapped_column(String(32))
    # answered, rejected (a CallError), timeout, expired (never sent), refused, not_connected, no_bus_answer
    outcome: Mapped[str] = mapped_column(String(32))
    answer_status: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Tariff(Base):
    """Prices for charging, net of tax. Never edited: a price change is a new tariff and assignment."""

    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    price_per_kwh: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    price_per_charging_minute: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    price_per_idle_minute: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    session_fee: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    # A fraction: 0.2 is 20 %.
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    created_at: Mapped[datetime]


class TariffAssignment(Base):
    """Where and when a tariff applies: a connector, a charger or everywhere; optionally only to a group."""

    __tablename__ = "tariff_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"), index=True)
    charge_point_id: Mapped[str | None] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    connector_id: Mapped[int | None] = mapped_column(Integer)
    # The group: sessions whose idTag has this parent idTag (a fleet, a family).
    parent_id_tag: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]
    created_at: Mapped[datetime]


class TransactionCost(Base):
    """The cost of a finished transaction, frozen when it stopped."""

    __tablename__ = "transaction_costs"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    breakdown: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime]


class Budget(Base):
    """A user's limit per charging session, in energy or money (or both: the first reached stops it)."""

    __tablename__ = "budgets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    max_energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    max_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    updated_at: Mapped[datetime]


class Webhook(Base):
    """An operator's endpoint that csms posts events to, signed with its own secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    # Comma-separated event kinds; empty: every kind.
    events: Mapped[str] = mapped_column(String(512), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # The node posting this webhook's deliveries, until when: one node at a time keeps them in order.
    delivering_node: Mapped[str | None] = mapped_column(String(32))
    delivering_until: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one webhook: pending until delivered, retried with backoff, kept as the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ChargerCertificate(Base):
    """A certificate on a charger: one csms signed for it (SignCertificate), or one installed with
    InstallCertificate or reported by GetInstalledCertificateIds; `not_after` drives renewal reminders."""

    __tablename__ = "charger_certificates"
    __table_args__ = (Index("ix_charger_certificates_not_after", "not_after"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), index=True)
    # ChargePointCertificate (signed by csms), CentralSystemRootCertificate or ManufacturerRootCertificate.
    certificate_type: Mapped[str] = mapped_column(String(40))
    # Issued, Accepted, Rejected or SendFailed for what csms signed; Installed for the others.
    status: Mapped[str] = mapped_column(String(16))
    # CertificateHashData (Security Whitepaper): how DeleteCertificate and GetInstalledCertificateIds name it.
    hash_algorithm: Mapped[str] = mapped_column(String(8))
    issuer_name_hash: Mapped[str] = mapped_column(String(128))
    issuer_key_hash: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(255))
    not_after: Mapped[datetime | None]
    certificate: Mapped[str | None] = mapped_column(Text)
    # From when it is refused and on csms's CRL (may lie ahead: a renewed certificate's grace period),
    # and why: revoked by staff, or superseded by a newer certificate the charger accepted.
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContractCertificate(Base):
    """An ISO 15118 contract certificate the operator's CA signed for an eMAID (the development certificate
    provider's records): how OCSP names it (SHA256 CertificateHashData) and whether it is revoked."""

    __tablename__ = "contract_certificates"
    __table_args__ = (UniqueConstraint("issuer_name_hash", "issuer_key_hash", "serial_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    emaid: Mapped[str] = mapped_column(String(ID_TOKEN_LENGTH), index=True)
    issuer_name_hash: Mapped[str] = mapped_column(String(128))
    issuer_key_hash: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    not_after: Mapped[datetime]
    certificate: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class DatabaseIdentity(Base):
    """One row, made when the schema is: which database this is, so a node can tell it from another
    (db/database_identity.py compares it with the marker the node keeps beside its files)."""

    __tablename__ = "database_identity"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime]


class CacheVersion(Base):
    """A change counter per kind of node cache (tags, logins, tariffs, webhooks), raised in the same
    transaction as every change to what that cache holds (db/change_counters.py): a node that missed the
    change's announcement on the bus notices the counter move (services/cache_freshness.py)."""

    __tablename__ = "cache_versions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class StationEvent(Base):
    """One event a 2.x station reported in NotifyEvent (a monitor that tripped, a hard-wired fault,
    a periodic reading), kept as told: the station's own event log."""

    __tablename__ = "station_events"
    # A station sending again a NotifyEvent it got no answer to: each event is stored once.
    __table_args__ = (
        Index("ux_station_events_event", "charge_point_id", "event_id", "timestamp", unique=True),
        Index("ix_station_events_charger", "charge_point_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[datetime]
    # Alerting, Delta or Periodic.
    trigger: Mapped[str] = mapped_column(String(16))
    # The eventId of the event that caused this one.
    cause: Mapped[int | None] = mapped_column(BigInteger)
    actual_value: Mapped[str] = mapped_column(Text)
    tech_code: Mapped[str | None] = mapped_column(String(50))
    tech_info: Mapped[str | None] = mapped_column(Text)
    cleared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    variable_monitoring_id: Mapped[int | None] = mapped_column(BigInteger)
    # HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor or CustomMonitor.
    notification_type: Mapped[str] = mapped_column(String(32))
    component_name: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evse_connector_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    variable_name: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    # The NotifyEvent message it came in: its seqNo and generatedAt.
    seq_no: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime]
    received_at: Mapped[datetime]


class VariableMonitor(Base):
    """A monitor on a variable of a 2.x station, as the station accepted it (SetVariableMonitoring) or
    reported it (NotifyMonitoringReport); `monitor_id` is the station's id of it."""

    __tablename__ = "variable_monitors"
    __table_args__ = (Index("ux_variable_monitors_monitor", "charge_point_id", "monitor_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    monitor_id: Mapped[int] = mapped_column(BigInteger)
    component_name: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evse_connector_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    variable_name: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str] = mapped_column(String(50), default="", server_default="")
    # UpperThreshold, LowerThreshold, Delta, Periodic or PeriodicClockAligned.
    monitor_type: Mapped[str] = mapped_column(String(24))
    # The threshold, delta or interval, as the station was told or reported it (a JSON number).
    value: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    # Only monitored during a transaction.
    transaction: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # set: accepted in SetVariableMonitoring; reported: told in NotifyMonitoringReport.
    source: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime]


class MonitoringSetting(Base):
    """A 2.x station's monitoring base (SetMonitoringBase) and level (SetMonitoringLevel), as it accepted them."""

    __tablename__ = "monitoring_settings"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    # All, FactoryDefault or HardWiredOnly.
    base: Mapped[str | None] = mapped_column(String(16))
    # The highest severity (0 Danger ... 9 Debug) the station reports events of.
    level: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class CustomerInformationRequest(Base):
    """A CustomerInformation csms sent a 2.x station: a driver's data asked for or deleted; its id is the
    requestId the station's NotifyCustomerInformation parts name."""

    __tablename__ = "customer_information_requests"
    __table_args__ = (Index("ix_customer_information_requests_charger", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    report: Mapped[bool] = mapped_column(Boolean)
    clear: Mapped[bool] = mapped_column(Boolean)
    id_token: Mapped[str | None] = mapped_column(String(ID_TOKEN_LENGTH))
    id_token_type: Mapped[str | None] = mapped_column(String(20))
    customer_identifier: Mapped[str | None] = mapped_column(String(64))
    # The customer certificate's hash data as asked for, JSON.
    customer_certificate: Mapped[str | None] = mapped_column(Text)
    # Sending until the station answers; then its answer (Accepted, Rejected, Invalid) or SendFailed.
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerInformationPart(Base):
    """One NotifyCustomerInformation part: a piece of the station's answer to a request, in seqNo order.
    Keyed by the station and requestId, so parts of a request sent through the generic call are kept too."""

    __tablename__ = "customer_information_parts"
    __table_args__ = (
        Index("ux_customer_information_parts_part", "charge_point_id", "request_id", "seq_no", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(BigInteger)
    seq_no: Mapped[int] = mapped_column(Integer)
    # More parts follow.
    tbc: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    data: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime]
    received_at: Mapped[datetime]


class DisplayMessage(Base):
    """A message an operator put on 2.x stations' displays (SetDisplayMessage); its id is the message id
    every station got. Cleared (ClearDisplayMessage) when `cleared_at` is set."""

    __tablename__ = "display_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    # ASCII, HTML, URI or UTF8.
    format: Mapped[str] = mapped_column(String(8))
    # AlwaysFront, InFront or NormalCycle.
    priority: Mapped[str] = mapped_column(String(16))
    # Charging, Faulted, Idle or Unavailable: shown only in that state.
    state: Mapped[str | None] = mapped_column(String(16))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class DisplayMessageStation(Base):
    """One station a display message was sent to, and what came of it there."""

    __tablename__ = "display_message_stations"

    message_id: Mapped[int] = mapped_column(ForeignKey("display_messages.id", ondelete="CASCADE"), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    # The station's SetDisplayMessage answer (Accepted, Rejected, NotSupportedPriority, ...), or csms's own:
    # NotSupported (a 1.6 charger), NotConnected, Timeout, SendFailed; after a clear, Cleared or Unknown.
    status: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class ReportedDisplayMessage(Base):
    """A message on a 2.x station's display as it reported it in NotifyDisplayMessages (GetDisplayMessages);
    `message_id` is the station's id of it."""

    __tablename__ = "reported_display_messages"
    __table_args__ = (Index("ux_reported_display_messages_message", "charge_point_id", "message_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("chargers.charge_point_id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    # The display it is on (a component), when the station named one, as "name" or "name/instance".
    display: Mapped[str | None] = mapped_column(String(101))
    reported_at: Mapped[datetime]


class Site(Base):
    """Chargers behind one grid connection, kept under `max_current_a` per phase (services/sites.py).

    The limit in force is the operator's override until it runs out, else the window of the day that
    covers now (SiteLimitWindow), else `max_current_a`. One node at a time allocates for the site: the one
    whose lease (`allocator_node`, `allocator_lease_until`) has not run out.
    """

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    max_current_a: Mapped[float] = mapped_column(Float)
    phases: Mapped[int] = mapped_column(Integer)
    min_current_a: Mapped[float] = mapped_column(Float)
    strategy: Mapped[str] = mapped_column(String(16))
    # What one charger of the site can give at most (counted for a charger that does not obey).
    charger_max_current_a: Mapped[float] = mapped_column(Float)
    # The zone the windows' times of day are in (IANA name).
    timezone: Mapped[str] = mapped_column(String(64))
    limit_override_a: Mapped[float | None] = mapped_column(Float)
    limit_override_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    allocator_node: Mapped[str | None] = mapped_column(String(32))
    allocator_lease_until: Mapped[datetime | None]


class SiteCharger(Base):
    """A charger on a site: a charger is on one site at most."""

    __tablename__ = "site_chargers"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)


class SiteLimitWindow(Base):
    """A lower (or higher) limit for part of every day: from `start_minute` to `end_minute` after
    midnight in the site's zone; a window that ends before it starts runs over midnight."""

    __tablename__ = "site_limit_windows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    max_current_a: Mapped[float] = mapped_column(Float)


class SiteAllocation(Base):
    """The limit csms set on one charging session of a site, and what its car last drew: the live view.

    `state`: charging (the charger accepted `limit_a`), waiting (limit 0 until power frees up),
    unresponsive (it refused the limit or could not be reached: counted at its maximum, `counted_a`).
    """

    __tablename__ = "site_allocations"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    connector_id: Mapped[int] = mapped_column(Integer)
    limit_a: Mapped[float] = mapped_column(Float)
    counted_a: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    drawn_a: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class SiteSample(Base):
    """A site's current at one moment, for the chart of its day: its limit, what csms allotted, what the
    cars drew. Kept at most one a minute per site."""

    __tablename__ = "site_samples"
    __table_args__ = (Index("ix_site_samples_site_at", "site_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    limit_a: Mapped[float] = mapped_column(Float)
    allocated_a: Mapped[float] = mapped_column(Float)
    drawn_a: Mapped[float | None] = mapped_column(Float)


class OcpiParty(Base):
    """An eMSP, hub or other OCPI platform csms roams with as a CPO: its state, its tokens, what it told of itself.

    Tokens csms only checks are kept as SHA-256 digests (they are 256-bit random strings, so a fast digest
    suffices and can be looked up): `token_a_digest`, the registration token csms issued (versions and
    credentials only), and `token_digest`, the token the party calls csms with once registered (the C csms
    answered its POST with, or the B csms sent it). `peer_token` is the token csms calls the party with, kept
    usable as webhook secrets are: csms must send it.
    """

    __tablename__ = "ocpi_parties"
    __table_args__ = (UniqueConstraint("country_code", "party_id", name="uq_ocpi_parties_country_code_party_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    role: Mapped[str] = mapped_column(String(8))
    # PENDING (not registered yet), REGISTERED, SUSPENDED (by the operator), UNREGISTERED (either side ended it).
    state: Mapped[str] = mapped_column(String(16))
    token_a_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    peer_token: Mapped[str | None] = mapped_column(String(64))
    versions_url: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(8))
    # JSON: the endpoints of its version details, and the roles its credentials named.
    endpoints: Mapped[str] = mapped_column(Text, default="[]")
    roles: Mapped[str] = mapped_column(Text, default="[]")
    business_name: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    registered_at: Mapped[datetime | None]


class OcpiLocation(Base):
    """A place csms publishes to OCPI parties as a Location, with the chargers on it as its EVSEs (docs/ocpi.md).

    `last_updated` moves whenever what an eMSP sees of it changes: the admin's edits, its chargers, the
    OCPI details of their connectors and their EVSEs' status (§8.3.1: an EVSE's change updates its Location).
    """

    __tablename__ = "ocpi_locations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(45))
    city: Mapped[str] = mapped_column(String(45))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    state: Mapped[str | None] = mapped_column(String(20))
    # ISO 3166-1 alpha-3.
    country: Mapped[str] = mapped_column(String(3))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # IANA zone name.
    time_zone: Mapped[str] = mapped_column(String(255))
    # JSON: OCPI Hours ({twentyfourseven, regular_hours}), or None when unknown; Facility names.
    opening_times: Mapped[str | None] = mapped_column(Text)
    facilities: Mapped[str] = mapped_column(Text, default="[]")
    parking_type: Mapped[str | None] = mapped_column(String(32))
    publish: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_updated: Mapped[datetime] = mapped_column(index=True)


class OcpiLocationCharger(Base):
    """A charger on an OCPI location: a charger is on one location at most."""

    __tablename__ = "ocpi_location_chargers"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("ocpi_locations.id", ondelete="CASCADE"), index=True)


class OcpiConnector(Base):
    """What OCPI tells of a connector (1.6) or EVSE (2.x) that OCPP does not: its plug and its power.

    Keyed as `connectors` is (connector_id is the EVSE of a 2.x station). No row: the defaults
    (services/ocpi_locations.py). `tariff_ids` None: the tariffs in force there for everyone.
    """

    __tablename__ = "ocpi_connectors"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    standard: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    power_type: Mapped[str] = mapped_column(String(20))
    max_voltage: Mapped[int] = mapped_column(Integer)
    max_amperage: Mapped[int] = mapped_column(Integer)
    max_electric_power: Mapped[int | None] = mapped_column(Integer)
    # JSON list of tariff ids, or None.
    tariff_ids: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class OcpiPush(Base):
    """One request csms owes a party (a Location PUT, an EVSE status PATCH, a Tariff PUT): the outbox, delivered
    in the background with retries (ocpi/push.py), kept across restarts. A newer push to the same URL with the
    same method supersedes a pending one: the party needs only the latest."""

    __tablename__ = "ocpi_pushes"
    __table_args__ = (Index("ix_ocpi_pushes_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("ocpi_parties.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    # PENDING, DELIVERED, FAILED (attempts used up, or the party refused it), SUPERSEDED.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class OcpiToken(Base):
    """A token an eMSP pushed to csms (OCPI 2.2.1 tokens module, csms the receiver): who owns it, how it may be
    authorized (`whitelist`), whether it is `valid`. `uid_key` is the uid upper-cased: OCPI's uid is a CiString,
    so a charger reading the card in another case still finds it (services/ocpi_tokens.py)."""

    __tablename__ = "ocpi_tokens"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "uid_key", "type", name="uq_ocpi_tokens_owner_uid_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The party csms heard it from (the eMSP, or the hub forwarding for it): real-time authorizations and,
    # later, its sessions and CDRs go there.
    ocpi_party_key: Mapped[int] = mapped_column(ForeignKey("ocpi_parties.id", ondelete="CASCADE"), index=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    uid: Mapped[str] = mapped_column(String(36))
    uid_key: Mapped[str] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(16))  # AD_HOC_USER, APP_USER, OTHER, RFID
    contract_id: Mapped[str] = mapped_column(String(36))
    visual_number: Mapped[str | None] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(36))
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))  # ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER
    language: Mapped[str | None] = mapped_column(String(2))
    default_profile_type: Mapped[str | None] = mapped_column(String(8))
    energy_contract: Mapped[str | None] = mapped_column(Text)  # JSON, as the eMSP sent it
    last_updated: Mapped[datetime]  # the eMSP's
    received_at: Mapped[datetime]  # when csms stored this version
    # An eMSP's START_SESSION for this token at a charger: until `command_until` the token presented there is
    # authorized by the command (services/ocpi_commands.py), with the command's authorization_reference.
    command_charge_point_id: Mapped[str | None] = mapped_column(String(64))
    command_reference: Mapped[str | None] = mapped_column(String(36))
    command_until: Mapped[datetime | None]


class OcpiReservation(Base):
    """A reservation an eMSP made with RESERVE_NOW: its own reservation_id (OCPI CiString(36)) for csms's
    reservation, whose id is the OCPP reservationId."""

    __tablename__ = "ocpi_reservations"

    ocpi_party_key: Mapped[int] = mapped_column(ForeignKey("ocpi_parties.id", ondelete="CASCADE"), primary_key=True)
    reservation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reservation_key: Mapped[int] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]


class OcpiTransactionToken(Base):
    """The roaming token a transaction was authorized with: whose Session and CDR it is (OCPI's CdrToken, with
    the party to send them to, how it was authorized and the eMSP's authorization_reference). A snapshot: the
    token may change or go after the start, the record of who was charged must not."""

    __tablename__ = "ocpi_transaction_tokens"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True)
    # The connection its sessions and CDRs go to; NULL once the operator deleted that party.
    ocpi_party_key: Mapped[int | None] = mapped_column(ForeignKey("ocpi_parties.id", ondelete="SET NULL"), index=True)
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    uid: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(16))
    contract_id: Mapped[str] = mapped_column(String(36))
    auth_method: Mapped[str] = mapped_column(String(16))  # OCPI AuthMethod: WHITELIST, AUTH_REQUEST or COMMAND
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    # When its CDR was queued for the eMSP (None: not yet; a sweep queues the CDRs of stopped charges left so).
    cdr_queued_at: Mapped[datetime | None]
