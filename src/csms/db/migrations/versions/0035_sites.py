"""Sites: chargers behind one grid connection, kept under its limit

Revision ID: 0035
Revises: 0034

- sites: the grid connection's limit per phase, the minimum a car needs, the sharing strategy, an
  operator's temporary override of the limit, and the lease of the node that allocates for it.
- site_chargers: which site a charger is on (one at most).
- site_limit_windows: limits for part of every day (e.g. lower from 17:00 to 20:00).
- site_allocations: the limit csms set on each charging session of a site, and what its car drew.
- site_samples: the site's current over time, for its chart.
- id_tags.charging_priority, vehicles.charging_priority: the weight of a session under the priority
  strategy; every existing tag and vehicle gets 1, the weight of everyone.

New tables and two columns with a default: existing rows stay as they are.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)


def _site(table: str) -> list[Any]:
    return [
        sa.Column("site_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("max_current_a", sa.Float(), nullable=False),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("min_current_a", sa.Float(), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("charger_max_current_a", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("limit_override_a", sa.Float(), nullable=True),
        sa.Column("limit_override_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("allocator_node", sa.String(32), nullable=True),
        sa.Column("allocator_lease_until", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "site_chargers",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        *_site("site_chargers"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_site_chargers_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_site_chargers")),
    )
    op.create_index(op.f("ix_site_chargers_site_id"), "site_chargers", ["site_id"])
    op.create_table(
        "site_limit_windows",
        sa.Column("id", BigId, nullable=False),
        *_site("site_limit_windows"),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("max_current_a", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_limit_windows")),
    )
    op.create_index(op.f("ix_site_limit_windows_site_id"), "site_limit_windows", ["site_id"])
    op.create_table(
        "site_allocations",
        sa.Column("transaction_id", BigId, nullable=False),
        *_site("site_allocations"),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("limit_a", sa.Float(), nullable=False),
        sa.Column("counted_a", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("drawn_a", sa.Float(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_site_allocations_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_site_allocations")),
    )
    op.create_index(op.f("ix_site_allocations_site_id"), "site_allocations", ["site_id"])
    op.create_table(
        "site_samples",
        sa.Column("id", BigId, nullable=False),
        *_site("site_samples"),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("limit_a", sa.Float(), nullable=False),
        sa.Column("allocated_a", sa.Float(), nullable=False),
        sa.Column("drawn_a", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_samples")),
    )
    op.create_index("ix_site_samples_site_at", "site_samples", ["site_id", "at"])
    for table in ("id_tags", "vehicles"):
        op.add_column(table, sa.Column("charging_priority", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in ("vehicles", "id_tags"):
        # A plain DROP COLUMN, not a batch rebuild on SQLite (see 0022): other tables point at both.
        op.execute(f"ALTER TABLE {table} DROP COLUMN charging_priority")
    for table in ("site_samples", "site_allocations", "site_limit_windows", "site_chargers", "sites"):
        op.drop_table(table)
