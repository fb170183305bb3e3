"""tariffs, costs, budgets and webhooks

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = csms.db.models.UTCDateTime(timezone=True)
_PRICE = sa.Numeric(precision=12, scale=4)
_MONEY = sa.Numeric(precision=14, scale=2)


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_per_kwh", _PRICE, nullable=False),
        sa.Column("price_per_charging_minute", _PRICE, nullable=False),
        sa.Column("price_per_idle_minute", _PRICE, nullable=False),
        sa.Column("session_fee", _PRICE, nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
    )
    op.create_table(
        "tariff_assignments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("tariff_id", _ID, nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.Column("valid_from", _TIME, nullable=True),
        sa.Column("valid_to", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_tariff_assignments_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_tariff_assignments_tariff_id_tariffs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_assignments")),
    )
    op.create_index(op.f("ix_tariff_assignments_tariff_id"), "tariff_assignments", ["tariff_id"])
    op.create_table(
        "transaction_costs",
        sa.Column("transaction_id", _ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", _MONEY, nullable=False),
        sa.Column("breakdown", sa.Text(), nullable=False),
        sa.Column("computed_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_costs_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_transaction_costs")),
    )
    op.create_table(
        "budgets",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("max_energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("max_cost", _MONEY, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_budgets_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_budgets")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("events", sa.String(length=512), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("webhook_id", _ID, nullable=False),
        sa.Column("event_kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_webhook_deliveries_webhook_id"), "webhook_deliveries", ["webhook_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_webhook_id"), table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("budgets")
    op.drop_table("transaction_costs")
    op.drop_index(op.f("ix_tariff_assignments_tariff_id"), table_name="tariff_assignments")
    op.drop_table("tariff_assignments")
    op.drop_table("tariffs")
