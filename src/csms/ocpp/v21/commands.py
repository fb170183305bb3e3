"""csms's commands as OCPP 2.1 calls: 2.0.1's spelling, and the tariff 2.1 can keep on the station."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from csms.domain.commands import ChargerCommand, SetDefaultTariff
from csms.ocpp.rpc import Payload
from csms.ocpp.v201 import commands as v201_commands

# The tax of csms's tariffs, as a 2.1 TaxRateType names it (free text for information).
_TAX_TYPE = "VAT"


def spell(command: ChargerCommand) -> tuple[str, Payload]:
    """The 2.1 action and payload that carry out `command`; RpcError when 2.1 cannot say it."""
    if isinstance(command, SetDefaultTariff):
        return "SetDefaultTariff", {"evseId": command.evse_id, "tariff": _tariff(command)}
    return v201_commands.spell(command)


read_answer = v201_commands.read_answer
read_call = v201_commands.read_call


def _tariff(command: SetDefaultTariff) -> Payload:
    """A 2.1 TariffType (I08): only the elements with a price; taxes as a percentage of net prices."""
    tax_rates = [{"type": _TAX_TYPE, "tax": _number(Decimal(command.tax_rate) * 100)}]
    elements: dict[str, tuple[str, str]] = {
        "energy": ("priceKwh", command.price_per_kwh),
        "chargingTime": ("priceMinute", command.price_per_charging_minute),
        "idleTime": ("priceMinute", command.price_per_idle_minute),
        "fixedFee": ("priceFixed", command.session_fee),
    }
    tariff: Payload = {
        "tariffId": command.tariff_id,
        "currency": command.currency,
        "description": [{"format": "UTF8", "content": command.name}],
    }
    for element, (price_name, price) in elements.items():
        if Decimal(price) > 0:
            tariff[element] = {"prices": [{price_name: _number(Decimal(price))}], "taxRates": tax_rates}
    return tariff


def _number(value: Decimal) -> Any:
    """A JSON number: an int when whole, else a float of the decimal's digits."""
    return int(value) if value == value.to_integral() else float(value)
