"""file transfers over FTP: a scheme per charger, and the scheme of each link sent

Revision ID: 0009
Revises: 0008

Chargers that fetch firmware and upload diagnostics only over FTP get ftp:// links (csms/ftp/). Each
charger has a preference (auto, http, ftp, ftps) and, for auto, what a quickly failed HTTP transfer
taught csms; each firmware update and diagnostics request records the scheme of the link it carried.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("file_transfer", sa.String(length=8), nullable=False, server_default="auto"))
        batch.add_column(sa.Column("file_transfer_learned", sa.String(length=8), nullable=True))
    with op.batch_alter_table("firmware_updates") as batch:
        batch.add_column(sa.Column("transfer_scheme", sa.String(length=8), nullable=True))
    with op.batch_alter_table("diagnostics_requests") as batch:
        batch.add_column(sa.Column("transfer_scheme", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diagnostics_requests") as batch:
        batch.drop_column("transfer_scheme")
    with op.batch_alter_table("firmware_updates") as batch:
        batch.drop_column("transfer_scheme")
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("file_transfer_learned")
        batch.drop_column("file_transfer")
