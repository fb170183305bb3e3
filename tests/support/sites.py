"""Sites in tests: making one, chargers on it, and the limits in force as the chargers received them.

What counts is what a charger received: the TxProfile in force on each running transaction (the last one
csms sent it, which the test charger accepts), summed against the site's limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from ocpp.v16 import call

from csms.simulator.charger import SimulatedCharger, now_iso
from tests.conftest import RunningServer
from tests.operating import online_charger, payloads_received
from tests.support.waiting import DEADLINE_SECONDS, poll

SITE_LIMIT = 63.0
MINIMUM = 6.0


async def make_site(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_ids: list[str], **fields: Any
) -> dict[str, Any]:
    body = {"name": f"site-{charge_point_ids[0]}", "max_current_a": SITE_LIMIT, "charge_point_ids": charge_point_ids}
    response = await http.post("/api/admin/sites", json={**body, **fields}, headers=admin)
    assert response.status_code == 201, response.text
    site: dict[str, Any] = response.json()
    return site


def tx_limit(charger: SimulatedCharger, transaction_id: int) -> float | None:
    """The limit of the last TxProfile the charger received for the transaction (it accepts them all)."""
    limit = None
    for payload in payloads_received(charger, "SetChargingProfile"):
        profile = payload["csChargingProfiles"]
        if profile["chargingProfilePurpose"] == "TxProfile" and profile.get("transactionId") == transaction_id:
            limit = float(profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
    return limit


def default_limit(charger: SimulatedCharger) -> float | None:
    defaults = [
        payload["csChargingProfiles"]
        for payload in payloads_received(charger, "SetChargingProfile")
        if payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"
    ]
    return float(defaults[-1]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]) if defaults else None


class Car:
    """A charging session on one of the site's chargers."""

    def __init__(self, charger: SimulatedCharger, transaction_id: int) -> None:
        self.charger, self.transaction_id = charger, transaction_id

    @property
    def limit(self) -> float | None:
        return tx_limit(self.charger, self.transaction_id)

    async def draw(self, amperes: float) -> None:
        sample = {
            "timestamp": now_iso(),
            "sampledValue": [
                {"value": "1000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                *(
                    {"value": f"{amperes:.1f}", "measurand": "Current.Import", "unit": "A", "phase": phase}
                    for phase in ("L1", "L2", "L3")
                ),
            ],
        }
        await self.charger.call(
            call.MeterValues(connector_id=1, meter_value=[sample], transaction_id=self.transaction_id)
        )

    async def stop(self) -> None:
        await self.charger.stop_transaction(self.transaction_id, 2000)


async def start_car(charger: SimulatedCharger, id_tag: str) -> Car:
    answer = await charger.start_transaction(1, id_tag)
    assert answer.id_tag_info["status"] == "Accepted"
    return Car(charger, answer.transaction_id)


async def limits_settle(
    cars: list[Car], expected: list[float] | None = None, *, within: float = DEADLINE_SECONDS
) -> list[float]:
    """The limits in force once every car has one (equal to `expected` when given), checked under the site's
    limit and at least the minimum (or 0: waiting)."""

    async def current() -> list[float | None]:
        return [car.limit for car in cars]

    def settled(limits: list[float | None]) -> bool:
        if any(limit is None for limit in limits):
            return False
        return expected is None or [round(limit or 0, 1) for limit in limits] == expected

    limits = await poll(current, until=settled, within=within)
    values = [limit or 0.0 for limit in limits]
    assert sum(values) <= SITE_LIMIT + 1e-9, values
    assert all(value == 0 or value >= MINIMUM for value in values), values
    return values


@contextlib.asynccontextmanager
async def site_chargers(server: RunningServer, count: int, **behaviour: Any) -> AsyncIterator[list[SimulatedCharger]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(online_charger(server, **behaviour)) for _ in range(count)]
