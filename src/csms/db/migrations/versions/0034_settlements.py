"""OCPP 2.1 settlements

Revision ID: 0034
Revises: 0033

settlements: each NotifySettlement a 2.1 station sent (ad hoc payment, C18-C24): the payment
reference, its status and amount, when it was settled, the receipt and VAT details, and the transaction
csms has of the station's transactionId. A new table: nothing existing changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("transaction_id", BigId, nullable=True),
        sa.Column("transaction_key", sa.String(36), nullable=True),
        sa.Column("psp_ref", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(18, 6), nullable=False),
        sa.Column("settled_at", _TIME, nullable=False),
        sa.Column("reason_code", sa.String(20), nullable=True),
        sa.Column("receipt_id", sa.String(50), nullable=True),
        sa.Column("receipt_url", sa.String(2000), nullable=True),
        sa.Column("vat_number", sa.String(20), nullable=True),
        sa.Column("vat_company", sa.Text(), nullable=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_settlements_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_settlements_transaction_id_transactions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
    )
    op.create_index("ix_settlements_charger_id", "settlements", ["charge_point_id", "id"])


def downgrade() -> None:
    op.drop_table("settlements")
