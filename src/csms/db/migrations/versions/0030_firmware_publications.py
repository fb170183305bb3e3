"""firmware a local controller publishes

Revision ID: 0030
Revises: 0029

firmware_publications: a firmware image a 2.x local controller was asked to publish to the stations behind
it (PublishFirmware; the id is its requestId), the image's MD5, the controller's reported status and the
locations it publishes the image at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

_TIME = UTCDateTime(timezone=True)

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "firmware_publications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("file_id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("checksum", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("published_locations", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_firmware_publications_file_id_stored_files"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["chargers.charge_point_id"],
            name=op.f("fk_firmware_publications_charge_point_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_publications")),
    )
    op.create_index(op.f("ix_firmware_publications_charge_point_id"), "firmware_publications", ["charge_point_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_firmware_publications_charge_point_id"), table_name="firmware_publications")
    op.drop_table("firmware_publications")
