"""Changing a charger's Basic-auth password with ChangeConfiguration(AuthorizationKey): the new one
counts only once the charger accepts it (OCPP 1.6 security whitepaper, profile 1 and 2)."""

from __future__ import annotations

import httpx
import pytest
import websockets
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import admin, ocpp_call, payloads_received

__all__ = ["admin"]

NEW_PASSWORD = "brand-new-password-2024"


async def can_connect(server: RunningServer, charge_point_id: str, password: str) -> bool:
    try:
        async with connect_charger(server.ws_url, charge_point_id, password):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 401
        return False


async def change_password(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], status: str
) -> tuple[str, httpx.Response, list[dict[str, str]]]:
    charge_point_id = await server.add_charger()
    behaviour = ChargerBehaviour(
        answers={"ChangeConfiguration": lambda _: call_result.ChangeConfiguration(status=status)}
    )
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour) as charger:
        response = await http.post(
            f"/api/admin/chargers/{charge_point_id}/password", json={"password": NEW_PASSWORD}, headers=admin
        )
        sent = payloads_received(charger, "ChangeConfiguration")
    return charge_point_id, response, sent


async def test_after_accepted_only_the_new_password_works(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id, response, sent = await change_password(server, http, admin, "Accepted")
    assert response.json() == {"status": "Accepted"}
    assert sent == [{"key": "AuthorizationKey", "value": NEW_PASSWORD.encode().hex().upper()}]
    assert not await can_connect(server, charge_point_id, CHARGER_PASSWORD)
    assert await can_connect(server, charge_point_id, NEW_PASSWORD)


async def test_after_rejected_the_old_password_still_works(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id, response, _ = await change_password(server, http, admin, "Rejected")
    assert response.json() == {"status": "Rejected"}
    assert await can_connect(server, charge_point_id, CHARGER_PASSWORD)
    assert not await can_connect(server, charge_point_id, NEW_PASSWORD)


@pytest.mark.parametrize("value", ["not hex at all", "00ff", "73686f7274"], ids=["not-hex", "not-ascii", "too-short"])
async def test_an_authorization_key_that_is_no_valid_password_never_leaves(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], value: str
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        response = await ocpp_call(
            http, admin, charger.id, "ChangeConfiguration", {"key": "AuthorizationKey", "value": value}
        )
        assert charger.received == []
    assert response.status_code == 422
