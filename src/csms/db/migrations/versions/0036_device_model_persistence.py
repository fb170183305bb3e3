"""device model attributes: persistent and constant

Revision ID: 0036
Revises: 0035

device_model_variables.persistent and .constant: what a 2.x station's NotifyReport says of each attribute
(VariableAttributeType: whether its value survives a reboot, whether it can never change). NULL for every
row already kept, which no report of it named yet; the next report fills them in.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("device_model_variables", sa.Column("persistent", sa.Boolean(), nullable=True))
    op.add_column("device_model_variables", sa.Column("constant", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN, not a batch rebuild on SQLite (see 0022).
    op.execute("ALTER TABLE device_model_variables DROP COLUMN constant")
    op.execute("ALTER TABLE device_model_variables DROP COLUMN persistent")
