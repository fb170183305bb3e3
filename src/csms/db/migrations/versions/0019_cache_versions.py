"""change counters of node caches

Revision ID: 0019
Revises: 0018

One row per kind of node cache (tags, logins, tariffs, webhooks) with a counter that every commit
changing what the cache holds raises in its own transaction. Each node reads the counters every few
seconds and drops a cache whose counter moved, so a change whose announcement on the bus it missed
reaches it in bounded time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in db/change_counters.py at the time of this migration.
_KINDS = ("tags", "logins", "tariffs", "webhooks")


def upgrade() -> None:
    table = op.create_table(
        "cache_versions",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_cache_versions")),
    )
    op.bulk_insert(table, [{"kind": kind, "version": 0} for kind in _KINDS])


def downgrade() -> None:
    op.drop_table("cache_versions")
