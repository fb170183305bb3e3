"""Charging profiles the charger accepts are kept per charger and connector, replaced and cleared as
on the charger (OCPP 1.6 §3.13)."""

from __future__ import annotations

from typing import Any

import httpx
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer
from tests.operating import admin, ocpp_call, online_charger

__all__ = ["admin"]


def profile(
    profile_id: int, *, stack_level: int = 0, purpose: str = "TxDefaultProfile", limit: int = 16
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]},
    }


async def set_profile(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, connector_id: int, body: dict[str, Any]
) -> None:
    payload = {"connectorId": connector_id, "csChargingProfiles": body}
    assert (await ocpp_call(http, admin, charge_point_id, "SetChargingProfile", payload)).status_code == 200


async def stored(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> list[tuple[int, int, int]]:
    found = (await http.get(f"/api/admin/chargers/{charge_point_id}/charging_profiles", headers=admin)).json()
    return [
        (
            item["connector_id"],
            item["charging_profile_id"],
            item["periods"][0]["limit"],
        )
        for item in found
    ]


async def test_accepted_profiles_are_kept_per_connector_and_replaced_like_on_the_charger(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        await set_profile(http, admin, charger.id, 1, profile(1, limit=16))
        await set_profile(http, admin, charger.id, 2, profile(2, limit=10))
        await set_profile(http, admin, charger.id, 1, profile(3, limit=20))  # same stack level and purpose: replaces 1
        await set_profile(
            http, admin, charger.id, 0, profile(2, stack_level=1, purpose="ChargePointMaxProfile", limit=32)
        )
    assert await stored(http, admin, charger.id) == [(0, 2, 32), (1, 3, 20)]


async def test_a_rejected_profile_is_not_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    behaviour = ChargerBehaviour(
        answers={"SetChargingProfile": lambda _: call_result.SetChargingProfile(status="Rejected")}
    )
    async with online_charger(server, behaviour) as charger:
        await set_profile(http, admin, charger.id, 1, profile(1))
    assert await stored(http, admin, charger.id) == []


async def test_clear_charging_profile_removes_what_its_criteria_name(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        await set_profile(http, admin, charger.id, 1, profile(1))
        await set_profile(http, admin, charger.id, 2, profile(2))
        await set_profile(http, admin, charger.id, 2, profile(3, stack_level=2))
        await ocpp_call(http, admin, charger.id, "ClearChargingProfile", {"id": 1})
        after_id = await stored(http, admin, charger.id)
        await ocpp_call(http, admin, charger.id, "ClearChargingProfile", {"connectorId": 2, "stackLevel": 2})
        after_criteria = await stored(http, admin, charger.id)
        await ocpp_call(http, admin, charger.id, "ClearChargingProfile", {})
    assert after_id == [(2, 2, 16), (2, 3, 16)]
    assert after_criteria == [(2, 2, 16)]
    assert await stored(http, admin, charger.id) == []


async def test_get_composite_schedule_returns_the_chargers_schedule(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    schedule = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}]}
    answer = call_result.GetCompositeSchedule(
        status="Accepted", connector_id=1, schedule_start="2030-01-01T00:00:00Z", charging_schedule=schedule
    )
    async with online_charger(server, ChargerBehaviour(answers={"GetCompositeSchedule": lambda _: answer})) as charger:
        response = await ocpp_call(
            http, admin, charger.id, "GetCompositeSchedule", {"connectorId": 1, "duration": 86400}
        )
    assert response.json() == {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2030-01-01T00:00:00Z",
        "chargingSchedule": schedule,
    }


async def test_a_profile_inside_an_accepted_remote_start_is_listed_among_the_charger_s_profiles(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    def only_on_connector_2(payload: dict[str, Any]) -> Any:
        return call_result.RemoteStartTransaction(status="Accepted" if payload["connector_id"] == 2 else "Rejected")

    behaviour = ChargerBehaviour(answers={"RemoteStartTransaction": only_on_connector_2})
    async with online_charger(server, behaviour, connectors=2) as charger:
        for connector_id, profile_id in ((1, 8), (2, 7)):
            inside = {
                "connectorId": connector_id,
                "idTag": "CARD1",
                "chargingProfile": profile(profile_id, purpose="TxProfile", limit=12),
            }
            assert (await ocpp_call(http, admin, charger.id, "RemoteStartTransaction", inside)).status_code == 200
    assert await stored(http, admin, charger.id) == [(2, 7, 12)]  # the rejected start's profile is not on the charger
