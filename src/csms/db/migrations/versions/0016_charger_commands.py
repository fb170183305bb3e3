"""the record of calls to chargers: who asked, from which node, what the charger answered

Revision ID: 0016
Revises: 0015

The node holding a charger's socket writes one row per call it carries out (or refuses, or drops
because its deadline passed on the way); the node that asked writes one when no answer came back
through the bus in time, so a late answer shows beside the 504 the caller got.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = csms.db.models.UTCDateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charger_commands",
        sa.Column("id", _ID, nullable=False),
        sa.Column("command_id", sa.String(length=32), nullable=False),
        sa.Column("charge_point_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        sa.Column("origin_node", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("answer_status", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_commands")),
    )
    op.create_index(op.f("ix_charger_commands_command_id"), "charger_commands", ["command_id"])
    op.create_index("ix_charger_commands_charger_created", "charger_commands", ["charge_point_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_charger_commands_charger_created", table_name="charger_commands")
    op.drop_index(op.f("ix_charger_commands_command_id"), table_name="charger_commands")
    op.drop_table("charger_commands")
