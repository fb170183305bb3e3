"""OCPI tokens: the tokens eMSPs push to csms, and which roaming token a transaction was authorized with

Revision ID: 0039
Revises: 0038

ocpi_tokens: one row per token an eMSP pushed (OCPI 2.2.1 Token), per owning party, uid (also upper-cased,
`uid_key`: uids are case-insensitive) and type, with the party connection it came through.
ocpi_transaction_tokens: for a transaction authorized with a roaming token, the token's owner, uid, type and
contract id as they were then, how it was authorized and the eMSP's authorization reference, for the
sessions and CDRs csms sends that eMSP.
cache_versions gets the ocpi_tokens counter (db/change_counters.py), at 0.

New tables: existing rows stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)


def upgrade() -> None:
    op.execute(sa.text("INSERT INTO cache_versions (kind, version) VALUES ('ocpi_tokens', 0)"))
    op.create_table(
        "ocpi_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("ocpi_party_key", BigId, nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("uid_key", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("visual_number", sa.String(64), nullable=True),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("whitelist", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("default_profile_type", sa.String(8), nullable=True),
        sa.Column("energy_contract", sa.Text(), nullable=True),
        sa.Column("last_updated", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["ocpi_party_key"],
            ["ocpi_parties.id"],
            name=op.f("fk_ocpi_tokens_ocpi_party_key_ocpi_parties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_tokens")),
        sa.UniqueConstraint("country_code", "party_id", "uid_key", "type", name="uq_ocpi_tokens_owner_uid_type"),
    )
    op.create_index(op.f("ix_ocpi_tokens_ocpi_party_key"), "ocpi_tokens", ["ocpi_party_key"])
    op.create_index(op.f("ix_ocpi_tokens_uid_key"), "ocpi_tokens", ["uid_key"])
    op.create_table(
        "ocpi_transaction_tokens",
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("ocpi_party_key", BigId, nullable=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("token_type", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("auth_method", sa.String(16), nullable=False),
        sa.Column("authorization_reference", sa.String(36), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_ocpi_transaction_tokens_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ocpi_party_key"],
            ["ocpi_parties.id"],
            name=op.f("fk_ocpi_transaction_tokens_ocpi_party_key_ocpi_parties"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_ocpi_transaction_tokens")),
    )
    op.create_index(op.f("ix_ocpi_transaction_tokens_ocpi_party_key"), "ocpi_transaction_tokens", ["ocpi_party_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ocpi_transaction_tokens_ocpi_party_key"), table_name="ocpi_transaction_tokens")
    op.drop_table("ocpi_transaction_tokens")
    op.drop_index(op.f("ix_ocpi_tokens_uid_key"), table_name="ocpi_tokens")
    op.drop_index(op.f("ix_ocpi_tokens_ocpi_party_key"), table_name="ocpi_tokens")
    op.drop_table("ocpi_tokens")
    op.execute(sa.text("DELETE FROM cache_versions WHERE kind = 'ocpi_tokens'"))
