"""OCPI 2.2.1's Tariff object (§11.3.1) built from a csms tariff.

A csms tariff is one TariffElement without restrictions (csms prices the same at every hour, day and energy):
ENERGY per kWh, TIME per hour charging, PARKING_TIME per hour idle (SuspendedEV, Finishing, no power drawn) and a
FLAT session fee, each net of tax with the tax rate as `vat` in percent. csms prices exactly (no rounding up to
whole minutes or kWh), so every step_size is 1 (Wh, second). A tariff csms never edits: its last_updated is when
it was created, and a new price is a new tariff.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from csms.db.models import Tariff
from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.identity import OwnParty
from csms.services import tariffs

_MINUTES_PER_HOUR = Decimal(60)


def tariff_object(own: OwnParty, tariff: Tariff) -> dict[str, Any]:
    vat = float(tariff.tax_rate * 100)
    prices = (
        ("ENERGY", tariff.price_per_kwh),
        ("TIME", tariff.price_per_charging_minute * _MINUTES_PER_HOUR),
        ("PARKING_TIME", tariff.price_per_idle_minute * _MINUTES_PER_HOUR),
        ("FLAT", tariff.session_fee),
    )
    components = [{"type": kind, "price": float(price), "vat": vat, "step_size": 1} for kind, price in prices if price]
    if not components:  # free of charge, as §11.3.1's own example says it
        components = [{"type": "FLAT", "price": 0.0, "vat": vat, "step_size": 0}]
    return {
        "country_code": own.country_code,
        "party_id": own.party_id,
        "id": str(tariff.id),
        "currency": tariff.currency,
        "tariff_alt_text": [{"language": "en", "text": tariffs.tariff_text(tariff)[:512]}],
        "elements": [{"price_components": components}],
        "last_updated": ocpi_timestamp(tariff.created_at),
    }
