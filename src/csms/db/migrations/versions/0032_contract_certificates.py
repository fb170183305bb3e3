"""contract certificates csms's own CA issued (ISO 15118 Plug & Charge, development provider)

Revision ID: 0032
Revises: 0031

- contract_certificates: the ISO 15118 contract certificates the operator's CA signed for an eMAID, with
  the CertificateHashData (SHA256) OCSP names them by and their revocation, so the development certificate
  provider answers GetCertificateStatus and Authorize for them. A new table: nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import csms.db.models

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_certificates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("emaid", sa.String(length=36), nullable=False),
        sa.Column("issuer_name_hash", sa.String(length=128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(length=128), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("not_after", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("revoked_at", csms.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", csms.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_certificates")),
        sa.UniqueConstraint(
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            name=op.f("uq_contract_certificates_issuer_name_hash"),
        ),
    )
    op.create_index(op.f("ix_contract_certificates_emaid"), "contract_certificates", ["emaid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contract_certificates_emaid"), table_name="contract_certificates")
    op.drop_table("contract_certificates")
