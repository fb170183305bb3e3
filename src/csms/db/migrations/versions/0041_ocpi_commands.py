"""OCPI commands: the reservation_id an eMSP gave a reservation it made with RESERVE_NOW, and the charger a
START_SESSION opened for a token

Revision ID: 0041
Revises: 0040

ocpi_reservations: per party connection and the eMSP's reservation_id (OCPI CiString(36)), the csms
reservation it names (whose id is the OCPP reservationId); it leaves with either.
ocpi_tokens gets command_charge_point_id, command_reference and command_until (NULL: no START_SESSION).

A new table and new nullable columns: existing rows stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ocpi_tokens") as table:
        table.add_column(sa.Column("command_charge_point_id", sa.String(64), nullable=True))
        table.add_column(sa.Column("command_reference", sa.String(36), nullable=True))
        table.add_column(sa.Column("command_until", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "ocpi_reservations",
        sa.Column("ocpi_party_key", BigId, nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("reservation_key", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ocpi_party_key"],
            ["ocpi_parties.id"],
            name=op.f("fk_ocpi_reservations_ocpi_party_key_ocpi_parties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_key"],
            ["reservations.id"],
            name=op.f("fk_ocpi_reservations_reservation_key_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ocpi_party_key", "reservation_id", name=op.f("pk_ocpi_reservations")),
    )
    op.create_index(op.f("ix_ocpi_reservations_reservation_key"), "ocpi_reservations", ["reservation_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ocpi_reservations_reservation_key"), table_name="ocpi_reservations")
    op.drop_table("ocpi_reservations")
    with op.batch_alter_table("ocpi_tokens") as table:
        table.drop_column("command_until")
        table.drop_column("command_reference")
        table.drop_column("command_charge_point_id")
