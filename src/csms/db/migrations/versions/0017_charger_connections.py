"""chargers' live connections, each under a lease its node renews

Revision ID: 0017
Revises: 0016

Presence was one flag per charger that each node set on connect and cleared on disconnect: the
commits of two nodes raced (a move left a charger offline while connected), and a node killed
with SIGKILL left its chargers connected for ever. Now each socket has a row with a sequence
from the database and a lease in the database's time; `chargers.is_connected` is no longer read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charger_connections",
        sa.Column("sequence", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(32), nullable=False),
        sa.Column("connection_id", sa.String(32), nullable=False),
        sa.Column("connected_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_charger_connections_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_charger_connections")),
        sa.UniqueConstraint("connection_id", name=op.f("uq_charger_connections_connection_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_charger_connections_charger", "charger_connections", ["charge_point_id", "sequence"])
    op.create_index(op.f("ix_charger_connections_node_id"), "charger_connections", ["node_id"])
    op.create_index(op.f("ix_charger_connections_lease_until"), "charger_connections", ["lease_until"])


def downgrade() -> None:
    op.drop_table("charger_connections")
