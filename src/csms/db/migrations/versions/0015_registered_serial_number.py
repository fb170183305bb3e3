"""the serial number an operator registered for a charger, unique across chargers

Revision ID: 0015
Revises: 0014

In CSMS_CHARGER_CERTIFICATE_IDENTITY=serial_number mode a charger's certificate names its serial
number. That serial used to be the chargePointSerialNumber of its last BootNotification, which any
charger can claim; it is now `registered_serial_number`, set by an operator and unique. Existing rows
keep the boot's serial as reported data (`serial_number`) and start with no registered serial: an
operator registers it (docs/operating-chargers.md) before such a charger can sign or present a
certificate. NULLs do not collide in a unique index, on SQLite and PostgreSQL alike.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("registered_serial_number", sa.String(length=64), nullable=True))
    op.create_index("ix_chargers_registered_serial_number", "chargers", ["registered_serial_number"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_chargers_registered_serial_number", table_name="chargers")
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("registered_serial_number")
