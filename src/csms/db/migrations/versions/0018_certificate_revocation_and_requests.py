"""certificate revocation, solicited CSRs only, security profiles raised only as far as an operator allows

Revision ID: 0018
Revises: 0017

A certificate csms signed can be revoked (revoked_at, possibly in the future: a renewed certificate's
predecessor stays valid for a grace period). A charger's CSR is signed only while csms expects one
(certificate_request_until, opened by an ExtendedTriggerMessage or an operator). A charger's recorded
security profile rises only up to what an operator allowed (security_profile_allowed); existing
chargers keep the profile they reached as their allowed one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = csms.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("charger_certificates") as batch:
        batch.add_column(sa.Column("revoked_at", _TIME, nullable=True))
        batch.add_column(sa.Column("revocation_reason", sa.String(length=32), nullable=True))
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("security_profile_allowed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("certificate_request_until", _TIME, nullable=True))
    op.execute("UPDATE chargers SET security_profile_allowed = security_profile")


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("certificate_request_until")
        batch.drop_column("security_profile_allowed")
    with op.batch_alter_table("charger_certificates") as batch:
        batch.drop_column("revocation_reason")
        batch.drop_column("revoked_at")
