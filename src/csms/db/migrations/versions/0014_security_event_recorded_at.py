"""security events keep when csms recorded them, so retention can delete by age

Revision ID: 0014
Revises: 0013

A charger's SecurityEventNotification keeps the charger's own timestamp in created_at, which may be
years off; retention judges a row by recorded_at, csms's time. Existing rows get their created_at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = csms.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("security_events") as batch:
        batch.add_column(sa.Column("recorded_at", _TIME, nullable=True))
    op.execute("UPDATE security_events SET recorded_at = created_at")
    with op.batch_alter_table("security_events") as batch:
        batch.alter_column(
            "recorded_at", existing_type=_TIME, nullable=False, server_default=sa.func.current_timestamp()
        )
    op.create_index("ix_security_events_recorded", "security_events", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_security_events_recorded", "security_events")
    with op.batch_alter_table("security_events") as batch:
        batch.drop_column("recorded_at")
