"""signed meter values kept as sent

Revision ID: 0023
Revises: 0022

- meter_values.value becomes TEXT on PostgreSQL: a 1.6 SignedData value (OCMF and the like) is the signed
  blob itself, often hundreds of characters, which VARCHAR(64) refused, losing the whole MeterValues. From
  VARCHAR to TEXT PostgreSQL changes only the catalogue, no table rewrite; SQLite does not enforce lengths.
- meter_values.unit widens from 16 to 20 characters on PostgreSQL: a 2.0.1 unitOfMeasure.unit is free text
  of up to 20 (1.6's units are an enumeration that fits 16).
- meter_values.signed_meter_value: a 2.x sampled value's signedMeterValue (signedMeterData, signingMethod,
  encodingMethod, publicKey) as the station sent it, JSON.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("meter_values", "value", existing_type=sa.String(64), type_=sa.Text())
        op.alter_column("meter_values", "unit", existing_type=sa.String(16), type_=sa.String(20))
    op.add_column("meter_values", sa.Column("signed_meter_value", sa.Text(), nullable=True))


def downgrade() -> None:
    # Not a batch rebuild on SQLite (see 0020). Going down fails on PostgreSQL once a longer value is kept.
    op.execute("ALTER TABLE meter_values DROP COLUMN signed_meter_value")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("meter_values", "value", existing_type=sa.Text(), type_=sa.String(64))
        op.alter_column("meter_values", "unit", existing_type=sa.String(20), type_=sa.String(16))
