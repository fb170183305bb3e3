"""the message log keeps each frame's size; a security event counts its repeats

Revision ID: 0010
Revises: 0009

The message log now keeps the first bytes of a large frame and its whole size in `frame_bytes`
(NULL for rows written before). Refused and throttled connection attempts are kept as one row per
kind, charger id and address per period, with `count` saying how many attempts it stands for.
Plain ADD COLUMNs: SQLite's batch mode leaves the tables as they are for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ocpp_messages") as batch:
        batch.add_column(sa.Column("frame_bytes", sa.Integer(), nullable=True))
    with op.batch_alter_table("security_events") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("security_events") as batch:
        batch.drop_column("count")
    with op.batch_alter_table("ocpp_messages") as batch:
        batch.drop_column("frame_bytes")
