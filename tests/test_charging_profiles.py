"""Charging profiles the charger accepts are kept per charger and connector, replaced and cleared as
on the charger (OCPP 1.6 §3.13), whether sent as the generic call or through the version-neutral endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer
from tests.operating import admin, new_tag, ocpp_call, online_charger, payloads_received
from tests.support.backends import sqlite_only_server
from tests.support.waiting import poll

__all__ = ["admin", "sqlite_only_server"]


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


# -- the version-neutral endpoints on a 1.6 charger -----------------------------------------------


def neutral_body(connector_id: int, profile_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "connector_id": connector_id,
        "charging_profile_id": profile_id,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "charging_rate_unit": "A",
        "periods": [{"start_period": 0, "limit": 16}],
        **fields,
    }


async def post_profile(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/api/admin/chargers/{charge_point_id}/charging_profiles", json=body, headers=admin)


async def test_a_tx_profile_from_the_neutral_endpoint_names_csms_s_transaction_id_on_the_connector(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        transaction_id = (await charger.start_transaction(2, await new_tag(http, admin))).transaction_id
        body = neutral_body(
            2,
            9,
            purpose="TxProfile",
            stack_level=2,
            transaction_id=transaction_id,
            periods=[{"start_period": 0, "limit": 32, "number_phases": 1}, {"start_period": 600, "limit": 6.5}],
        )
        response = await post_profile(http, admin, charger.id, body)
    assert response.json() == {"status": "Accepted"}
    assert payloads_received(charger, "SetChargingProfile") == [
        {
            "connectorId": 2,
            "csChargingProfiles": {
                "chargingProfileId": 9,
                "transactionId": transaction_id,
                "stackLevel": 2,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 32.0, "numberPhases": 1},
                        {"startPeriod": 600, "limit": 6.5},
                    ],
                },
            },
        }
    ]
    [listed] = (await http.get(f"/api/admin/chargers/{charger.id}/charging_profiles", headers=admin)).json()
    assert (listed["connector_id"], listed["transaction_id"], listed["purpose"]) == (2, transaction_id, "TxProfile")


async def test_a_station_maximum_is_a_charge_point_max_profile_on_1_6(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        body = neutral_body(
            0,
            4,
            purpose="ChargingStationMaxProfile",
            kind="Absolute",
            start_schedule="2030-01-01T00:00:00Z",
            valid_to="2030-02-01T00:00:00Z",
        )
        assert (await post_profile(http, admin, charger.id, body)).json() == {"status": "Accepted"}
    [sent] = payloads_received(charger, "SetChargingProfile")
    assert sent["connectorId"] == 0
    assert sent["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert sent["csChargingProfiles"]["chargingSchedule"]["startSchedule"] == "2030-01-01T00:00:00.000Z"
    assert sent["csChargingProfiles"]["validTo"] == "2030-02-01T00:00:00.000Z"
    [listed] = (await http.get(f"/api/admin/chargers/{charger.id}/charging_profiles", headers=admin)).json()
    assert (listed["purpose"], listed["kind"]) == ("ChargingStationMaxProfile", "Absolute")


async def test_a_profile_the_charger_rejects_through_the_neutral_endpoint_is_not_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    behaviour = ChargerBehaviour(
        answers={"SetChargingProfile": lambda _: call_result.SetChargingProfile(status="Rejected")}
    )
    async with online_charger(server, behaviour) as charger:
        response = await post_profile(http, admin, charger.id, neutral_body(1, 1))
    assert response.json() == {"status": "Rejected"}
    assert await stored(http, admin, charger.id) == []


async def test_clearing_through_the_neutral_endpoint_sends_1_6_criteria(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        await post_profile(http, admin, charger.id, neutral_body(1, 1))
        await post_profile(http, admin, charger.id, neutral_body(0, 2, purpose="ChargingStationMaxProfile"))
        response = await http.delete(
            f"/api/admin/chargers/{charger.id}/charging_profiles",
            params={"purpose": "ChargingStationMaxProfile"},
            headers=admin,
        )
    assert response.json() == {"status": "Accepted"}
    assert payloads_received(charger, "ClearChargingProfile") == [{"chargingProfilePurpose": "ChargePointMaxProfile"}]
    assert await stored(http, admin, charger.id) == [(1, 1, 16)]


async def test_the_composite_schedule_of_a_1_6_connector_is_read_back_in_neutral_form(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    schedule = {"duration": 600, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}]}
    answer = call_result.GetCompositeSchedule(
        status="Accepted", connector_id=1, schedule_start="2030-01-01T00:00:00Z", charging_schedule=schedule
    )
    async with online_charger(server, ChargerBehaviour(answers={"GetCompositeSchedule": lambda _: answer})) as charger:
        response = await http.get(
            f"/api/admin/chargers/{charger.id}/composite_schedule",
            params={"connector_id": 1, "duration": 600},
            headers=admin,
        )
    assert payloads_received(charger, "GetCompositeSchedule") == [{"connectorId": 1, "duration": 600}]
    assert response.json() == {
        "status": "Accepted",
        "schedule": {
            "connector_id": 1,
            "schedule_start": "2030-01-01T00:00:00Z",
            "duration": 600,
            "charging_rate_unit": "W",
            "periods": [{"start_period": 0, "limit": 7400.0, "number_phases": None}],
        },
    }


async def test_a_rejected_composite_schedule_has_no_schedule(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        response = await http.get(
            f"/api/admin/chargers/{charger.id}/composite_schedule", params={"connector_id": 1}, headers=admin
        )
    assert response.json() == {"status": "Rejected", "schedule": None}


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"purpose": "ChargePointMaxProfile"}, "purpose"),
        ({"periods": []}, "periods"),
        ({"periods": [{"start_period": 60, "limit": 16}]}, "start_period 0"),
        ({"periods": [{"start_period": 0, "limit": 16}, {"start_period": 0, "limit": 8}]}, "increase"),
        ({"periods": [{"start_period": 0, "limit": -1}]}, "limit"),
        ({"charging_rate_unit": "kW"}, "charging_rate_unit"),
        ({"kind": "Recurring", "start_schedule": "2030-01-01T00:00:00Z"}, "recurrency"),
        ({"kind": "Absolute"}, "start_schedule"),
        ({"start_schedule": "2030-01-01T00:00:00Z"}, "Relative"),
        ({"valid_from": "2030-01-02T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"}, "valid_to"),
        ({"limit": 16}, "limit"),
        ({"purpose": "TxProfile"}, "transaction_id"),
        ({"transaction_id": 5}, "only a TxProfile"),
        ({"purpose": "ChargingStationMaxProfile"}, "connector 0"),
    ],
)
async def test_a_bad_profile_body_gets_a_422_with_a_json_reason_and_nothing_is_sent(
    server: RunningServer,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    fields: dict[str, Any],
    complaint: str,
) -> None:
    async with online_charger(server) as charger:
        response = await post_profile(http, admin, charger.id, neutral_body(1, 1, **fields))
    assert response.status_code == 422, response.text
    assert complaint in json.dumps(response.json())
    assert payloads_received(charger, "SetChargingProfile") == []


async def test_the_neutral_endpoints_answer_409_for_a_charger_that_is_not_connected(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    base = f"/api/admin/chargers/{charge_point_id}"
    responses = [
        await post_profile(http, admin, charge_point_id, neutral_body(1, 1)),
        await http.delete(f"{base}/charging_profiles", headers=admin),
        await http.get(f"{base}/composite_schedule", params={"connector_id": 1}, headers=admin),
    ]
    assert [response.status_code for response in responses] == [409, 409, 409]
    assert all("not connected" in response.json()["detail"] for response in responses)


async def test_the_neutral_endpoints_answer_404_for_an_unknown_charger(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await post_profile(http, admin, "NO-SUCH-CHARGER", neutral_body(1, 1))
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown charger NO-SUCH-CHARGER"}


async def test_a_tx_profile_is_no_longer_listed_once_its_transaction_ends(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        transaction_id = (await charger.start_transaction(1, await new_tag(http, admin))).transaction_id
        await post_profile(
            http, admin, charger.id, neutral_body(1, 5, purpose="TxProfile", transaction_id=transaction_id)
        )
        await post_profile(http, admin, charger.id, neutral_body(1, 6))
        during = await stored(http, admin, charger.id)
        await charger.stop_transaction(transaction_id, 1000)
        after = await poll(lambda: stored(http, admin, charger.id), until=lambda found: len(found) < 2)
    assert during == [(1, 6, 16), (1, 5, 16)]  # by connector, purpose, stack level
    assert after == [(1, 6, 16)]  # the TxDefaultProfile stays


async def test_the_test_charger_answers_the_composite_of_the_profiles_it_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rejecting = ChargerBehaviour(
        answers={"SetChargingProfile": lambda _: call_result.SetChargingProfile(status="Rejected")}
    )
    async with online_charger(server, rejecting) as charger:
        await set_profile(http, admin, charger.id, 0, profile(1, purpose="ChargePointMaxProfile", limit=10))
        assert charger.profiles.limit_a(1, datetime.now(UTC)) is None  # what it rejected limits nothing
    async with online_charger(server, connectors=2) as charger:
        await set_profile(http, admin, charger.id, 1, profile(1, limit=20))
        await set_profile(http, admin, charger.id, 0, profile(2, purpose="ChargePointMaxProfile", limit=16))
        composite = await http.get(
            f"/api/admin/chargers/{charger.id}/composite_schedule",
            params={"connector_id": 1, "duration": 600, "unit": "A"},
            headers=admin,
        )
        assert (charger.profiles.limit_a(1, datetime.now(UTC)), charger.profiles.limit_a(2, datetime.now(UTC))) == (
            16,
            16,
        )
        await ocpp_call(
            http, admin, charger.id, "ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}
        )
        assert charger.profiles.limit_a(1, datetime.now(UTC)) == 20
    schedule = composite.json()["schedule"]
    assert (composite.json()["status"], schedule["connector_id"], schedule["duration"]) == ("Accepted", 1, 600)
    assert schedule["periods"] == [{"start_period": 0, "limit": 16.0, "number_phases": None}]
