"""charger operations: configuration keys, local lists, reservations, charging profiles, files, firmware, diagnostics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:56:20.459334
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charger_configuration_keys",
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("updated_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_charger_configuration_keys_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "key", name=op.f("pk_charger_configuration_keys")),
    )
    op.create_table(
        "charging_profiles",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("charging_profile_id", sa.Integer(), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_charging_profiles_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profiles")),
    )
    with op.batch_alter_table("charging_profiles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_charging_profiles_charger_connector", ["charge_point_id", "connector_id"], unique=False
        )

    op.create_table(
        "local_list_entries",
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expiry_date", csms.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_local_list_entries_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "id_tag", name=op.f("pk_local_list_entries")),
    )
    op.create_table(
        "local_list_states",
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("list_version", sa.Integer(), nullable=False),
        sa.Column("reported_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_local_list_states_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_local_list_states")),
    )
    op.create_table(
        "stored_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("storage_name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("charge_point_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_stored_files_uploaded_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("storage_name", name=op.f("uq_stored_files_storage_name")),
    )
    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_files_kind"), ["kind"], unique=False)

    op.create_table(
        "diagnostics_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_diagnostics_requests_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_diagnostics_requests_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_diagnostics_requests_requested_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostics_requests")),
    )
    with op.batch_alter_table("diagnostics_requests", schema=None) as batch_op:
        batch_op.create_index("ix_diagnostics_requests_charger", ["charge_point_id", "id"], unique=False)

    op.create_table(
        "firmware_rollouts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("retrieve_date", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_firmware_rollouts_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["stored_files.id"], name=op.f("fk_firmware_rollouts_file_id_stored_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_rollouts")),
    )
    op.create_table(
        "firmware_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rollout_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("reported_version", sa.String(length=50), nullable=True),
        sa.Column("updated_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_firmware_updates_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["firmware_rollouts.id"],
            name=op.f("fk_firmware_updates_rollout_id_firmware_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_updates")),
    )
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.create_index("ix_firmware_updates_charger", ["charge_point_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_firmware_updates_rollout_id"), ["rollout_id"], unique=False)

    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_reservations_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_reservations_transaction_id_transactions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reservations_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_charger_connector", ["charge_point_id", "connector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reservations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_user_id"))
        batch_op.drop_index("ix_reservations_charger_connector")

    op.drop_table("reservations")
    with op.batch_alter_table("firmware_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firmware_updates_rollout_id"))
        batch_op.drop_index("ix_firmware_updates_charger")

    op.drop_table("firmware_updates")
    op.drop_table("firmware_rollouts")
    with op.batch_alter_table("diagnostics_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_diagnostics_requests_charger")

    op.drop_table("diagnostics_requests")
    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_files_kind"))

    op.drop_table("stored_files")
    op.drop_table("local_list_states")
    op.drop_table("local_list_entries")
    with op.batch_alter_table("charging_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_charging_profiles_charger_connector")

    op.drop_table("charging_profiles")
    op.drop_table("charger_configuration_keys")
