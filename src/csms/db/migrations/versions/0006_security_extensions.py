"""security extensions: signed firmware, GetLog requests, charger certificates, security profiles

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = csms.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("security_profile", sa.Integer(), nullable=True))
    with op.batch_alter_table("firmware_rollouts") as batch:
        batch.add_column(sa.Column("signing_certificate", sa.Text(), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
    with op.batch_alter_table("diagnostics_requests") as batch:
        batch.add_column(sa.Column("log_type", sa.String(length=32), nullable=True))
    op.create_table(
        "charger_certificates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("certificate_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hash_algorithm", sa.String(length=8), nullable=False),
        sa.Column("issuer_name_hash", sa.String(length=128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(length=128), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("not_after", _TIME, nullable=True),
        sa.Column("certificate", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_charger_certificates_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_certificates")),
    )
    op.create_index("ix_charger_certificates_not_after", "charger_certificates", ["not_after"])
    op.create_index(op.f("ix_charger_certificates_charge_point_id"), "charger_certificates", ["charge_point_id"])


def downgrade() -> None:
    op.drop_table("charger_certificates")
    with op.batch_alter_table("diagnostics_requests") as batch:
        batch.drop_column("log_type")
    with op.batch_alter_table("firmware_rollouts") as batch:
        batch.drop_column("signature")
        batch.drop_column("signing_certificate")
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("security_profile")
