"""transactions say who closed them, whether the meter went backwards, and since when they are stale

Revision ID: 0011
Revises: 0010

Plain ADD COLUMN on both databases: SQLite's batch mode (which would rebuild `transactions` and needs
`sqlite_autoincrement`, see 0007) is not needed to add columns. Records closed before this migration
were closed by their charger's StopTransaction; a meterStop below meterStart is flagged as such. An
index on stop_timestamp lets the stale-transaction sweep find the open ones without a scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("closed_by", sa.String(16), nullable=True))
    op.add_column(
        "transactions",
        sa.Column("meter_went_backwards", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("transactions", sa.Column("stale_since", csms.db.models.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE transactions SET closed_by = 'charger' WHERE stop_timestamp IS NOT NULL")
    op.execute("UPDATE transactions SET meter_went_backwards = TRUE WHERE meter_stop < meter_start")
    op.create_index("ix_transactions_stop_timestamp", "transactions", ["stop_timestamp"])


def downgrade() -> None:
    op.drop_index("ix_transactions_stop_timestamp", table_name="transactions")
    op.drop_column("transactions", "stale_since")
    op.drop_column("transactions", "meter_went_backwards")
    op.drop_column("transactions", "closed_by")
