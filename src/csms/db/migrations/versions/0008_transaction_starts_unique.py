"""a charger's StartTransaction is recorded once

Revision ID: 0008
Revises: 0007

A charger that lost the answer to a StartTransaction sends the same one again. csms used to read
before every start to find such a repeat; the database now refuses it instead (a start is unique per
charger, connector, time, idTag and meter reading), so the common start needs no read. Plain index
operations: SQLite's batch mode (and the AUTOINCREMENT it would drop) is not needed for them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["charge_point_id", "connector_id", "start_timestamp", "id_tag", "meter_start"]


def upgrade() -> None:
    op.create_index("ux_transactions_start", "transactions", _COLUMNS, unique=True)
    op.drop_index("ix_transactions_charger_start", table_name="transactions")


def downgrade() -> None:
    op.create_index("ix_transactions_charger_start", "transactions", _COLUMNS[:3])
    op.drop_index("ux_transactions_start", table_name="transactions")
