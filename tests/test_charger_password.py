"""Changing a charger's Basic-auth password: ChangeConfiguration(AuthorizationKey) for 1.6 (security
whitepaper, profiles 1 and 2), SetVariables(SecurityCtrlr.BasicAuthPassword) for 2.0.1; the new one
counts only once the charger accepts it."""

from __future__ import annotations

import httpx
import pytest
from ocpp.v16 import call_result
from ocpp.v201 import call_result as call_result201

from csms.simulator.charger import ChargerBehaviour, connect_charger
from csms.simulator.station201 import StationBehaviour, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import admin, can_connect, ocpp_call, payloads_received

__all__ = ["admin"]

NEW_PASSWORD = "brand-new-password-2024"


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


async def test_a_201_station_gets_its_new_password_as_basic_auth_password(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # The same endpoint: 2.0.1 keeps the password as SecurityCtrlr.BasicAuthPassword, plain (not hex).
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        response = await http.post(
            f"/api/admin/chargers/{station_id}/password", json={"password": NEW_PASSWORD}, headers=admin
        )
        assert response.status_code == 200 and response.json() == {"status": "Accepted"}, response.text
        assert [call.payload for call in station.received] == [
            {
                "set_variable_data": [
                    {
                        "component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "BasicAuthPassword"},
                        "attribute_value": NEW_PASSWORD,
                    }
                ]
            }
        ]
    assert not await can_connect(server, station_id, CHARGER_PASSWORD, version="2.0.1")
    assert await can_connect(server, station_id, NEW_PASSWORD, version="2.0.1")
    # The password is write-only: it is no device model variable csms shows.
    variables = await http.get(f"/api/admin/chargers/{station_id}/variables", headers=admin)
    assert variables.json() == []


async def test_a_201_station_that_rejects_the_password_keeps_the_old_one(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    rejecting = StationBehaviour(
        answers={
            "SetVariables": lambda payload: call_result201.SetVariables(
                set_variable_result=[
                    {"attribute_status": "Rejected", "component": data["component"], "variable": data["variable"]}
                    for data in payload["set_variable_data"]
                ]
            )
        }
    )
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=rejecting):
        response = await http.post(
            f"/api/admin/chargers/{station_id}/password", json={"password": NEW_PASSWORD}, headers=admin
        )
    assert response.json() == {"status": "Rejected"}
    assert await can_connect(server, station_id, CHARGER_PASSWORD, version="2.0.1")
    assert not await can_connect(server, station_id, NEW_PASSWORD, version="2.0.1")


async def test_a_basic_auth_password_set_through_the_generic_call_is_checked_and_counts(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()

    def setting(password: str) -> dict[str, object]:
        variable = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
        return {"setVariableData": [{**variable, "attributeValue": password}]}

    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await station.boot()  # from here csms reads the answers of its calls as 2.0.1's
        too_short = await ocpp_call(http, admin, station_id, "SetVariables", setting("short"))
        assert too_short.status_code == 422 and station.received == [], too_short.text
        accepted = await ocpp_call(http, admin, station_id, "SetVariables", setting(NEW_PASSWORD))
        assert accepted.status_code == 200, accepted.text
    assert await can_connect(server, station_id, NEW_PASSWORD, version="2.0.1")
