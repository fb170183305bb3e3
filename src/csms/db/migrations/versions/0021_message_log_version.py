"""the OCPP version of each logged frame

Revision ID: 0021
Revises: 0020

ocpp_messages.ocpp_version: the version the frame's connection agreed on ('1.6', '2.0.1'). Frames logged
before this migration keep NULL: a database that ran a csms with 2.0.1 before it may hold frames of both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ocpp_messages", sa.Column("ocpp_version", sa.String(8), nullable=True))


def downgrade() -> None:
    # Not a batch rebuild on SQLite: dropping and recreating a table that others refer to would delete
    # their rows through ON DELETE CASCADE (see 0020).
    op.execute("ALTER TABLE ocpp_messages DROP COLUMN ocpp_version")
