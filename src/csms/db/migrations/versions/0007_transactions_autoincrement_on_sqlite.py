"""transaction ids never reused on SQLite again

Revision ID: 0007
Revises: 0006

Migration 0002 changed `transactions` in SQLite's batch mode, which rebuilds the table from reflection,
and reflection does not carry AUTOINCREMENT: SQLite could then hand out the id of a deleted newest
transaction again, and ignored the counter that transaction ids are reserved from. This rebuilds the
table with AUTOINCREMENT; SQLite sets the counter to the highest id copied. Any later batch change of
`transactions` must pass `table_kwargs={"sqlite_autoincrement": True}` as this one does.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's sequence never goes back
    with op.batch_alter_table("transactions", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    pass  # keeping AUTOINCREMENT is harmless
