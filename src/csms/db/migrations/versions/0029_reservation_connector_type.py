"""reservations of any EVSE with a connector type

Revision ID: 0029
Revises: 0023

reservations.connector_type: a 2.x reservation of any EVSE of the station that has a connector of this
type (OCPP 2.0.1 ConnectorEnumType, e.g. cCCS2); NULL for every existing reservation, which names its
connector or EVSE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reservations", sa.Column("connector_type", sa.String(20), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN, not a batch rebuild on SQLite (see 0022).
    op.execute("ALTER TABLE reservations DROP COLUMN connector_type")
