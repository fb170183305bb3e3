"""what csms answers each charger's BootNotification

Revision ID: 0022
Revises: 0021

chargers.boot_answer: the operator's choice, Accepted (every existing charger, and the default),
Pending (csms may call the charger, for instance to provision it, and refuses the charger's own calls)
or Rejected (csms neither calls nor answers it beyond its next BootNotification).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, with its default for every existing row, on SQLite too (no table rebuild).
    op.add_column("chargers", sa.Column("boot_answer", sa.String(16), nullable=False, server_default="Accepted"))


def downgrade() -> None:
    # Not a batch rebuild on SQLite: dropping and recreating a table that others refer to would delete
    # their rows through ON DELETE CASCADE (see 0020).
    op.execute("ALTER TABLE chargers DROP COLUMN boot_answer")
