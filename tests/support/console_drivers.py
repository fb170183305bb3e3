"""A driver as the console's browser tests meet one: a real account with a card, and a priced charger."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from ocpp.routing import after
from ocpp.v16.enums import Action

from csms.simulator.charger import SimulatedCharger
from tests.conftest import RunningServer, bearer, create_account_with_role, login_as, new_username, signup


@dataclass(frozen=True)
class Driver:
    username: str
    user_id: int
    card: str
    headers: dict[str, str]


async def driver_with_card(http: httpx.AsyncClient, label: str = "Work badge") -> Driver:
    """A signed-up driver who registered an RFID card of their own."""
    username = new_username("driver")
    headers = bearer(await signup(http, username))
    card = f"C{secrets.token_hex(4).upper()}"
    added = await http.post("/api/me/id_tags", json={"id_tag": card, "label": label}, headers=headers)
    assert added.status_code == 201, added.text
    user_id = int((await http.get("/api/me", headers=headers)).json()["id"])
    return Driver(username=username, user_id=user_id, card=card, headers=headers)


async def staff_headers(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


async def priced_charger(server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]) -> str:
    """A charger with its own tariff: 0.30 EUR a kWh, 20 % tax, nothing for time."""
    charge_point_id = await server.add_charger()
    tariff = {"name": "per kWh", "currency": "EUR", "tax_rate": "0.20", "price_per_kwh": "0.30"}
    created = await http.post("/api/admin/tariffs", json=tariff, headers=staff)
    assert created.status_code == 201, created.text
    assignment = {"tariff_id": created.json()["id"], "charge_point_id": charge_point_id}
    assigned = await http.post("/api/admin/tariff_assignments", json=assignment, headers=staff)
    assert assigned.status_code == 201, assigned.text
    return charge_point_id


class StopsWhenAsked(SimulatedCharger):
    """Stops the transaction a RemoteStopTransaction names, at 4 kWh, as chargers do."""

    @after(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]  # the ocpp package has no hints
    async def stop_after_remote_stop(self, **payload: Any) -> None:
        await self.stop_transaction(payload["transaction_id"], 4_000, reason="Remote")
