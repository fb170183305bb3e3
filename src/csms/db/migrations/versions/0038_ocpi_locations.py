"""OCPI locations, connectors' OCPI details and the outbox of pushes to OCPI parties

Revision ID: 0038
Revises: 0037

- ocpi_locations: a place csms publishes as an OCPI Location (address, coordinates, time zone, opening
  times, facilities, parking type, publish flag) and when what an eMSP sees of it last changed.
- ocpi_location_chargers: which location a charger is on (one at most).
- ocpi_connectors: a connector's (1.6) or EVSE's (2.x) plug and power as OCPI tells them, and its tariffs.
- ocpi_pushes: the Location, EVSE and Tariff updates csms owes each party, retried until delivered.

New tables: existing rows stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)


def _charger(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["charge_point_id"],
        ["chargers.charge_point_id"],
        name=op.f(f"fk_{table}_charge_point_id_chargers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "ocpi_locations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("address", sa.String(45), nullable=False),
        sa.Column("city", sa.String(45), nullable=False),
        sa.Column("postal_code", sa.String(10), nullable=True),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("time_zone", sa.String(255), nullable=False),
        sa.Column("opening_times", sa.Text(), nullable=True),
        sa.Column("facilities", sa.Text(), nullable=False),
        sa.Column("parking_type", sa.String(32), nullable=True),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_updated", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_locations")),
    )
    op.create_index(op.f("ix_ocpi_locations_last_updated"), "ocpi_locations", ["last_updated"])
    op.create_table(
        "ocpi_location_chargers",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("location_id", BigId, nullable=False),
        _charger("ocpi_location_chargers"),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["ocpi_locations.id"],
            name=op.f("fk_ocpi_location_chargers_location_id_ocpi_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_ocpi_location_chargers")),
    )
    op.create_index(op.f("ix_ocpi_location_chargers_location_id"), "ocpi_location_chargers", ["location_id"])
    op.create_table(
        "ocpi_connectors",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("standard", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("power_type", sa.String(20), nullable=False),
        sa.Column("max_voltage", sa.Integer(), nullable=False),
        sa.Column("max_amperage", sa.Integer(), nullable=False),
        sa.Column("max_electric_power", sa.Integer(), nullable=True),
        sa.Column("tariff_ids", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        _charger("ocpi_connectors"),
        sa.PrimaryKeyConstraint("charge_point_id", "connector_id", name=op.f("pk_ocpi_connectors")),
    )
    op.create_table(
        "ocpi_pushes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["ocpi_parties.id"], name=op.f("fk_ocpi_pushes_party_id_ocpi_parties"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_pushes")),
    )
    op.create_index(op.f("ix_ocpi_pushes_party_id"), "ocpi_pushes", ["party_id"])
    op.create_index("ix_ocpi_pushes_due", "ocpi_pushes", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("ocpi_pushes", "ocpi_connectors", "ocpi_location_chargers", "ocpi_locations"):
        op.drop_table(table)
