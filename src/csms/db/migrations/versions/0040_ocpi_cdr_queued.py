"""OCPI: when a roaming charge's CDR was queued for its eMSP

Revision ID: 0040
Revises: 0039

ocpi_transaction_tokens.cdr_queued_at: set in the commit that queues the CDR, so a node that stopped between
a charge's stop and that commit finds the charge again and queues its CDR (ocpi/session_feed.py). Existing
charges were told of with the tokens module's own rules: they are marked queued at their creation, so no old
CDR is sent twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import UTCDateTime

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ocpi_transaction_tokens", sa.Column("cdr_queued_at", UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE ocpi_transaction_tokens SET cdr_queued_at = created_at WHERE transaction_id IN "
        "(SELECT id FROM transactions WHERE stop_timestamp IS NOT NULL)"
    )


def downgrade() -> None:
    # A plain DROP COLUMN, not a batch rebuild on SQLite (see 0022).
    op.execute("ALTER TABLE ocpi_transaction_tokens DROP COLUMN cdr_queued_at")
