"""the version-neutral data model, expand step: OCPP 2.x columns and tables beside the 1.6 ones

Revision ID: 0020
Revises: 0019

Adds and backfills only (docs/architecture.md, "The version-neutral data model"); every existing row
gets its OCPP 1.6 meaning and nothing that old rows could break is tightened:

- chargers.ocpp_version: '1.6' for every existing charger (csms spoke nothing else); NULL for a charger
  registered later until it boots.
- connectors: evse_id and evse_connector_id (1.6: EVSE = connectorId, its connector 1; connector 0 is the
  station itself: EVSE 0, no connector), availability (Operative, Inoperative; 1.6 has none of its own,
  so it is read from the status: Unavailable is Inoperative), and error_code nullable (2.x sends none).
- transactions: transaction_key (a 2.x charger's string transactionId, unique per charger where set,
  NULL for 1.6), evse_id (= connector_id for 1.6), id_token_type (NULL for a 1.6 idTag), charging_state,
  remote_start_id, last_seq_no; transaction_events keeps a 2.x transaction's TransactionEvent history.
- idTags widen from 20 to 36 characters (the 2.0.1 IdToken) wherever they are kept, and id_tags get a
  type (NULL for a 1.6 idTag). SQLite does not enforce VARCHAR lengths, so the widening is done on
  PostgreSQL only; on SQLite rebuilding transactions for it would cost a table copy for nothing.
- chargers.vendor widens from 20 to 50 characters (a 2.0.1 vendorName), on PostgreSQL, as above.
- device_model_variables: a 2.x station's device model (component, variable, attribute), beside the 1.6
  configuration keys. An absent instance is '' and an absent EVSE or connector 0, so the natural key is
  a plain unique index that NotifyReport can upsert on.

Going back down to 0019 fails on PostgreSQL if a 2.x token or vendor longer than 20 characters was stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)
# Every column an idTag (or a parent idTag) is kept in.
_ID_TAG_COLUMNS = (
    ("id_tags", "id_tag"),
    ("id_tags", "parent_id_tag"),
    ("transactions", "id_tag"),
    ("transactions", "stop_id_tag"),
    ("reservations", "id_tag"),
    ("reservations", "parent_id_tag"),
    ("local_list_entries", "id_tag"),
    ("local_list_entries", "parent_id_tag"),
    ("tariff_assignments", "parent_id_tag"),
)
# A 2.0.1 BootNotification's vendorName has up to 50 characters; 1.6's chargePointVendor 20.
_VENDOR = ("chargers", "vendor")
_KEYED = sa.text("transaction_key IS NOT NULL")


def upgrade() -> None:
    _expand_chargers_and_connectors()
    _expand_transactions()
    _create_transaction_events()
    _expand_id_tags()
    _create_device_model()


def _expand_chargers_and_connectors() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("ocpp_version", sa.String(8), nullable=True))
    op.execute("UPDATE chargers SET ocpp_version = '1.6'")
    with op.batch_alter_table("connectors") as batch:
        batch.add_column(sa.Column("evse_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("evse_connector_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("availability", sa.String(16), nullable=True))
        batch.alter_column("error_code", existing_type=sa.String(32), nullable=True)
    op.execute(
        "UPDATE connectors SET evse_id = connector_id,"
        " evse_connector_id = CASE WHEN connector_id = 0 THEN NULL ELSE 1 END,"
        " availability = CASE WHEN status = 'Unavailable' THEN 'Inoperative' ELSE 'Operative' END"
    )


def _expand_transactions() -> None:
    # Only ADD COLUMN: SQLite changes the table in place, keeping its AUTOINCREMENT (see 0007).
    with op.batch_alter_table("transactions", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("transaction_key", sa.String(36), nullable=True))
        batch.add_column(sa.Column("evse_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("id_token_type", sa.String(20), nullable=True))
        batch.add_column(sa.Column("charging_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("remote_start_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_seq_no", sa.Integer(), nullable=True))
    op.execute("UPDATE transactions SET evse_id = connector_id")
    op.create_index(
        "ux_transactions_key",
        "transactions",
        ["charge_point_id", "transaction_key"],
        unique=True,
        sqlite_where=_KEYED,
        postgresql_where=_KEYED,
    )


def _create_transaction_events() -> None:
    op.create_table(
        "transaction_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(8), nullable=False),
        sa.Column("trigger_reason", sa.String(32), nullable=False),
        sa.Column("timestamp", _TIME, nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("charging_state", sa.String(16), nullable=True),
        sa.Column("stopped_reason", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_events_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_events")),
    )
    op.create_index("ux_transaction_events_seq_no", "transaction_events", ["transaction_id", "seq_no"], unique=True)


def _expand_id_tags() -> None:
    with op.batch_alter_table("id_tags") as batch:
        batch.add_column(sa.Column("type", sa.String(20), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _ID_TAG_COLUMNS:
        op.alter_column(table, column, existing_type=sa.String(20), type_=sa.String(36))
    op.alter_column(*_VENDOR, existing_type=sa.String(20), type_=sa.String(50))


def _create_device_model() -> None:
    op.create_table(
        "device_model_variables",
        sa.Column("id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("component_name", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("evse_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("evse_connector_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("variable_name", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
        sa.Column("attribute_type", sa.String(8), nullable=False, server_default="Actual"),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("mutability", sa.String(10), nullable=True),
        sa.Column("data_type", sa.String(16), nullable=True),
        sa.Column("characteristics", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_device_model_variables_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model_variables")),
    )
    op.create_index(
        "ux_device_model_variables_attribute",
        "device_model_variables",
        [
            "charge_point_id",
            "component_name",
            "component_instance",
            "evse_id",
            "evse_connector_id",
            "variable_name",
            "variable_instance",
            "attribute_type",
        ],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("device_model_variables")
    if op.get_bind().dialect.name != "sqlite":
        for table, column in _ID_TAG_COLUMNS:
            op.alter_column(table, column, existing_type=sa.String(36), type_=sa.String(20))
        op.alter_column(*_VENDOR, existing_type=sa.String(50), type_=sa.String(20))
    _drop_columns("id_tags", "type")
    op.drop_table("transaction_events")
    op.drop_index("ux_transactions_key", table_name="transactions")
    _drop_columns(
        "transactions",
        "last_seq_no",
        "remote_start_id",
        "charging_state",
        "id_token_type",
        "evse_id",
        "transaction_key",
    )
    op.execute("UPDATE connectors SET error_code = 'NoError' WHERE error_code IS NULL")
    # connectors is a leaf: SQLite's batch rebuild of it (for NOT NULL) cascades into nothing.
    with op.batch_alter_table("connectors") as batch:
        batch.alter_column("error_code", existing_type=sa.String(32), nullable=False)
        batch.drop_column("availability")
        batch.drop_column("evse_connector_id")
        batch.drop_column("evse_id")
    _drop_columns("chargers", "ocpp_version")


def _drop_columns(table: str, *columns: str) -> None:
    """ALTER TABLE ... DROP COLUMN, also on SQLite (3.35+): a batch rebuild would drop and recreate the
    table, and with foreign keys on, dropping chargers or transactions deletes the rows that refer to them."""
    for column in columns:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
