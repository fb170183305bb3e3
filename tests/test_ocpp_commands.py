"""Every CSMS-initiated OCPP 1.6 call through the admin endpoint: the charger gets the exact payload,
the admin gets the charger's answer, and the exchange is in the message log."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer
from tests.operating import admin, ocpp_call, online_charger, payloads_received
from tests.support.backends import sqlite_only_server

__all__ = ["admin", "sqlite_only_server"]

PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}

# (action, payload as sent, the simulated charger's default answer)
CALLS: list[Any] = [
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "hello", "data": "42"}, {"status": "Accepted"}),
    (
        "GetConfiguration",
        {"key": ["HeartbeatInterval"]},
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    ),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1"}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 12}, {"status": "Accepted"}),
    ("Reset", {"type": "Hard"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    (
        "GetDiagnostics",
        {"location": "https://example.com/upload", "retries": 2, "retryInterval": 30},
        {"fileName": "diagnostics.log"},
    ),
    ("UpdateFirmware", {"location": "https://example.com/fw.bin", "retrieveDate": "2030-01-01T00:00:00Z"}, {}),
    ("GetLocalListVersion", {}, {"listVersion": 0}),
    (
        "SendLocalList",
        {
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "TAG-1", "idTagInfo": {"status": "Accepted"}}],
        },
        {"status": "Accepted"},
    ),
    (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "TAG-1", "reservationId": 900001},
        {"status": "Accepted"},
    ),
    ("CancelReservation", {"reservationId": 900001}, {"status": "Accepted"}),
    # Decimal limits (multipleOf 0.1) once broke here: csms filled the package's validator cache with a
    # float-parsed schema. Keep this one after a call that compiled schemas, so a regression shows.
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}, {"status": "Accepted"}),
    ("ClearChargingProfile", {"id": 7}, {"status": "Accepted"}),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"}, {"status": "Rejected"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
]


@pytest.mark.parametrize(
    ("action", "payload", "answer"), CALLS, ids=[getattr(call, "id", None) or call[0] for call in CALLS]
)
async def test_each_call_reaches_the_charger_exactly_and_its_answer_comes_back(
    server: RunningServer,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    action: str,
    payload: dict[str, Any],
    answer: dict[str, Any],
) -> None:
    async with online_charger(server) as charger:
        response = await ocpp_call(http, admin, charger.id, action, payload)
        assert payloads_received(charger, action) == [payload]
    assert (response.status_code, response.json()) == (200, answer)


async def test_a_call_and_its_answer_are_in_the_message_log(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await ocpp_call(http, admin, charger.id, "UnlockConnector", {"connectorId": 1})
    await server.flush_message_log()
    log = (await http.get(f"/api/admin/chargers/{charger.id}/messages", headers=admin)).json()
    frames = [(message["direction"], message["action"], json.loads(message["frame"])) for message in log]
    call_frame = next(
        frame for direction, action, frame in frames if direction == "out" and action == "UnlockConnector"
    )
    result_frame = next(frame for direction, action, frame in frames if direction == "in" and frame[1] == call_frame[1])
    assert call_frame[2:] == ["UnlockConnector", {"connectorId": 1}]
    assert result_frame == [3, call_frame[1], {"status": "Unlocked"}]


async def test_a_call_to_an_offline_charger_is_409(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    response = await ocpp_call(http, admin, charge_point_id, "ReserveNow", CALLS[13][1])
    assert response.status_code == 409 and "not connected" in response.json()["detail"]


async def test_a_charger_that_does_not_answer_in_time_is_504(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, ChargerBehaviour(answer_delay=3)) as charger:  # the test server waits 2 s
        response = await ocpp_call(http, admin, charger.id, "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert response.status_code == 504 and "did not answer" in response.json()["detail"]


async def test_a_payload_breaking_the_schema_never_leaves(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        response = await ocpp_call(http, admin, charger.id, "SendLocalList", {"listVersion": 1, "updateType": "Some"})
        assert payloads_received(charger, "SendLocalList") == []
    assert response.status_code == 422


async def test_configuration_keys_from_get_configuration_are_kept_and_shown(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    keys = [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    ]
    behaviour = ChargerBehaviour(
        answers={"GetConfiguration": lambda _: call_result.GetConfiguration(configuration_key=keys)}
    )
    async with online_charger(server, behaviour) as charger:
        await ocpp_call(http, admin, charger.id, "GetConfiguration", {})
        await ocpp_call(http, admin, charger.id, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})
    shown = (await http.get(f"/api/admin/chargers/{charger.id}/configuration", headers=admin)).json()
    assert [(key["key"], key["value"], key["readonly"]) for key in shown] == [
        ("HeartbeatInterval", "60", False),
        ("NumberOfConnectors", "2", True),
    ]
