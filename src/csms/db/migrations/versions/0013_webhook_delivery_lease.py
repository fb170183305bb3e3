"""a webhook's deliveries are posted by one node at a time

Revision ID: 0013
Revises: 0012

Each node runs a worker per webhook with due deliveries. The node whose worker holds a webhook's
lease (delivering_node, until delivering_until) is the only one posting to it, so the webhook gets
its events one at a time and oldest first however many nodes there are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = csms.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("delivering_node", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("delivering_until", _TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("delivering_until")
        batch.drop_column("delivering_node")
