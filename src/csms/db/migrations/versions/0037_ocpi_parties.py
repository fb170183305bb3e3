"""OCPI parties: the eMSPs and hubs csms roams with as a CPO

Revision ID: 0037
Revises: 0036

ocpi_parties: one row per OCPI platform (eMSP, hub, ...): its country code and party id, its state, the
digests of the tokens it calls csms with, the token csms calls it with, and the versions, endpoints and
roles it told csms of during the credentials handshake.

A new table: existing rows stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ocpi_parties",
        sa.Column("id", BigId, nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("token_a_digest", sa.String(64), nullable=True),
        sa.Column("token_digest", sa.String(64), nullable=True),
        sa.Column("peer_token", sa.String(64), nullable=True),
        sa.Column("versions_url", sa.String(255), nullable=True),
        sa.Column("version", sa.String(8), nullable=True),
        sa.Column("endpoints", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("business_name", sa.String(100), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("registered_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_parties")),
        sa.UniqueConstraint("country_code", "party_id", name="uq_ocpi_parties_country_code_party_id"),
        sa.UniqueConstraint("token_a_digest", name=op.f("uq_ocpi_parties_token_a_digest")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_ocpi_parties_token_digest")),
    )


def downgrade() -> None:
    op.drop_table("ocpi_parties")
