"""smart charging on both versions

Revision ID: 0033
Revises: 0032

- charging_profiles.profile holds csms's version-neutral profile (JSON, snake_case) instead of the 1.6
  csChargingProfiles it was sent as; existing rows are converted in place, and a station maximum's purpose
  is ChargingStationMaxProfile on every version (1.6 ChargePointMaxProfile).
- charging_profiles.transaction_id / transaction_key: a TxProfile's transaction (csms's id, the 2.x station's
  key), so a TxProfile whose transaction ended, which the charger has dropped, is no longer listed.
- reported_charging_profiles: what a 2.0.1 station listed in its ReportChargingProfiles, per request.
- charging_limits: external limits a 2.0.1 station reported (NotifyChargingLimit), until cleared.
- ev_charging_reports: what a 2.0.1 station told of its EV (NotifyEVChargingNeeds, NotifyEVChargingSchedule).
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from csms.db.models import BigId, UTCDateTime

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = UTCDateTime(timezone=True)
_STATION_MAX_16 = "ChargePointMaxProfile"
_STATION_MAX = "ChargingStationMaxProfile"


def upgrade() -> None:
    op.add_column("charging_profiles", sa.Column("transaction_id", sa.BigInteger(), nullable=True))
    op.add_column("charging_profiles", sa.Column("transaction_key", sa.String(36), nullable=True))
    _convert_profiles()
    _create_reported_charging_profiles()
    _create_charging_limits()
    _create_ev_charging_reports()


def downgrade() -> None:
    op.drop_table("ev_charging_reports")
    op.drop_table("charging_limits")
    op.drop_table("reported_charging_profiles")
    # The neutral profiles stay as they are: csms before 0033 lists them, it only shows other fields.
    _rename_purpose(_STATION_MAX, _STATION_MAX_16)
    # Not a batch rebuild on SQLite (see 0020): other tables point at chargers, not at this one, but a plain
    # DROP COLUMN is enough.
    op.execute("ALTER TABLE charging_profiles DROP COLUMN transaction_key")
    op.execute("ALTER TABLE charging_profiles DROP COLUMN transaction_id")


def _convert_profiles() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, profile FROM charging_profiles")).all()
    for row_id, text in rows:
        wire = json.loads(text)
        if "chargingProfileId" not in wire:
            continue  # already neutral
        bind.execute(
            sa.text("UPDATE charging_profiles SET profile = :profile, transaction_id = :transaction WHERE id = :id"),
            {
                "profile": json.dumps(_neutral(wire), sort_keys=True),
                "transaction": wire.get("transactionId"),
                "id": row_id,
            },
        )
    _rename_purpose(_STATION_MAX_16, _STATION_MAX)


def _rename_purpose(old: str, new: str) -> None:
    statement = sa.text("UPDATE charging_profiles SET purpose = :new WHERE purpose = :old")
    op.get_bind().execute(statement, {"old": old, "new": new})


def _neutral(wire: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 csChargingProfiles as ChargingProfileValue.fields() spells it; its RFC 3339 timestamps are
    what datetime.fromisoformat reads back."""
    schedule = wire["chargingSchedule"]
    purpose = wire["chargingProfilePurpose"]
    return {
        "profile_id": wire["chargingProfileId"],
        "stack_level": wire["stackLevel"],
        "purpose": _STATION_MAX if purpose == _STATION_MAX_16 else purpose,
        "kind": wire["chargingProfileKind"],
        "charging_rate_unit": schedule["chargingRateUnit"],
        "periods": [
            {
                "start_period": period["startPeriod"],
                "limit": period["limit"],
                "number_phases": period.get("numberPhases"),
            }
            for period in schedule["chargingSchedulePeriod"]
        ],
        "recurrency": wire.get("recurrencyKind"),
        "valid_from": wire.get("validFrom"),
        "valid_to": wire.get("validTo"),
        "transaction_id": wire.get("transactionId"),
        "transaction_key": None,
        "duration": schedule.get("duration"),
        "start_schedule": schedule.get("startSchedule"),
        "min_charging_rate": schedule.get("minChargingRate"),
    }


def _charger_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["charge_point_id"],
        ["chargers.charge_point_id"],
        name=op.f(f"fk_{table}_charge_point_id_chargers"),
        ondelete="CASCADE",
    )


def _create_reported_charging_profiles() -> None:
    op.create_table(
        "reported_charging_profiles",
        sa.Column("id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("charging_profile_id", sa.Integer(), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        _charger_key("reported_charging_profiles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reported_charging_profiles")),
    )
    op.create_index("ix_reported_charging_profiles_charger", "reported_charging_profiles", ["charge_point_id"])


def _create_charging_limits() -> None:
    op.create_table(
        "charging_limits",
        sa.Column("id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("is_grid_critical", sa.Boolean(), nullable=True),
        sa.Column("schedules", sa.Text(), nullable=True),
        sa.Column("reported_at", _TIME, nullable=False),
        sa.Column("cleared_at", _TIME, nullable=True),
        _charger_key("charging_limits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_limits")),
    )
    op.create_index("ix_charging_limits_charger", "charging_limits", ["charge_point_id"])


def _create_ev_charging_reports() -> None:
    op.create_table(
        "ev_charging_reports",
        sa.Column("id", BigId, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("energy_transfer", sa.String(32), nullable=True),
        sa.Column("departure_time", _TIME, nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        _charger_key("ev_charging_reports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ev_charging_reports")),
    )
    op.create_index("ix_ev_charging_reports_charger", "ev_charging_reports", ["charge_point_id"])
