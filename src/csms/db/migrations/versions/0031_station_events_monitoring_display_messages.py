"""2.x monitoring, station events, customer information and display messages

Revision ID: 0031
Revises: 0030

New tables only; nothing existing changes:

- station_events: what a 2.x station reported in NotifyEvent, one row per eventData, unique per station,
  eventId and timestamp (a NotifyEvent sent again is stored once).
- variable_monitors: the monitors a station accepted (SetVariableMonitoring) or reported
  (NotifyMonitoringReport), unique per station and the station's monitor id.
- monitoring_settings: a station's accepted monitoring base and level.
- customer_information_requests and customer_information_parts: CustomerInformation requests csms sent
  (their id is the requestId) and the NotifyCustomerInformation parts, by station, requestId and seqNo.
- display_messages and display_message_stations: the messages operators put on displays, and each
  station's answer; reported_display_messages: what NotifyDisplayMessages told of a station's display.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)
_TABLES = (
    "reported_display_messages",
    "display_message_stations",
    "display_messages",
    "customer_information_parts",
    "customer_information_requests",
    "monitoring_settings",
    "variable_monitors",
    "station_events",
)


def _charger(table: str) -> list[Any]:
    return [
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f(f"fk_{table}_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
    ]


def _component_and_variable() -> list[Any]:
    return [
        sa.Column("component_name", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("evse_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("evse_connector_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("variable_name", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
    ]


def _id(table: str) -> list[Any]:
    return [sa.Column("id", BigId, nullable=False), sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))]


def _message_columns() -> list[Any]:
    return [
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("start_at", _TIME, nullable=True),
        sa.Column("end_at", _TIME, nullable=True),
        sa.Column("transaction_id", sa.String(36), nullable=True),
    ]


def upgrade() -> None:
    _station_events()
    _monitors()
    _customer_information()
    _display_messages()


def _station_events() -> None:
    op.create_table(
        "station_events",
        *_id("station_events"),
        *_charger("station_events"),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", _TIME, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("cause", sa.BigInteger(), nullable=True),
        sa.Column("actual_value", sa.Text(), nullable=False),
        sa.Column("tech_code", sa.String(50), nullable=True),
        sa.Column("tech_info", sa.Text(), nullable=True),
        sa.Column("cleared", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("transaction_id", sa.String(36), nullable=True),
        sa.Column("variable_monitoring_id", sa.BigInteger(), nullable=True),
        sa.Column("notification_type", sa.String(32), nullable=False),
        *_component_and_variable(),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("generated_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
    )
    op.create_index(
        "ux_station_events_event", "station_events", ["charge_point_id", "event_id", "timestamp"], unique=True
    )
    op.create_index("ix_station_events_charger", "station_events", ["charge_point_id", "id"])


def _monitors() -> None:
    op.create_table(
        "variable_monitors",
        *_id("variable_monitors"),
        *_charger("variable_monitors"),
        sa.Column("monitor_id", sa.BigInteger(), nullable=False),
        *_component_and_variable(),
        sa.Column("monitor_type", sa.String(24), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("transaction", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_index("ux_variable_monitors_monitor", "variable_monitors", ["charge_point_id", "monitor_id"], unique=True)
    op.create_table(
        "monitoring_settings",
        *_charger("monitoring_settings"),
        sa.Column("base", sa.String(16), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_monitoring_settings")),
    )


def _customer_information() -> None:
    op.create_table(
        "customer_information_requests",
        *_id("customer_information_requests"),
        *_charger("customer_information_requests"),
        sa.Column("report", sa.Boolean(), nullable=False),
        sa.Column("clear", sa.Boolean(), nullable=False),
        sa.Column("id_token", sa.String(36), nullable=True),
        sa.Column("id_token_type", sa.String(20), nullable=True),
        sa.Column("customer_identifier", sa.String(64), nullable=True),
        sa.Column("customer_certificate", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", BigId, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_customer_information_requests_requested_by_users"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_customer_information_requests_charger", "customer_information_requests", ["charge_point_id", "id"]
    )
    op.create_table(
        "customer_information_parts",
        *_id("customer_information_parts"),
        *_charger("customer_information_parts"),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("tbc", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("generated_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
    )
    op.create_index(
        "ux_customer_information_parts_part",
        "customer_information_parts",
        ["charge_point_id", "request_id", "seq_no"],
        unique=True,
    )


def _display_messages() -> None:
    op.create_table(
        "display_messages",
        *_id("display_messages"),
        *_message_columns(),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("cleared_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_display_messages_created_by_users"), ondelete="SET NULL"
        ),
    )
    op.create_table(
        "display_message_stations",
        sa.Column("message_id", BigId, nullable=False),
        *_charger("display_message_stations"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["display_messages.id"],
            name=op.f("fk_display_message_stations_message_id_display_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "charge_point_id", name=op.f("pk_display_message_stations")),
    )
    op.create_table(
        "reported_display_messages",
        *_id("reported_display_messages"),
        *_charger("reported_display_messages"),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        *_message_columns(),
        sa.Column("display", sa.String(101), nullable=True),
        sa.Column("reported_at", _TIME, nullable=False),
    )
    op.create_index(
        "ux_reported_display_messages_message",
        "reported_display_messages",
        ["charge_point_id", "message_id"],
        unique=True,
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
