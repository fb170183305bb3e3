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


class StopsWhenAsked(SimulatedCharger):
    """Stops the transaction a RemoteStopTransaction names, at 4 kWh, as chargers do."""

    @after(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]  # the ocpp package has no hints
    async def stop_after_remote_stop(self, **payload: Any) -> None:
        await self.stop_transaction(payload["transaction_id"], 4_000, reason="Remote")
