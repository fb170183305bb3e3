"""OCPP 2.0.1 block N beyond logs: a station's NotifyEvent kept, shown live and posted to webhooks; monitors,
monitoring base and level set through the generic call and reported back (NotifyMonitoringReport); and a
customer's data asked for or deleted (CustomerInformation, NotifyCustomerInformation in parts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from csms.simulator.station201 import SimulatedStation, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, node_with
from tests.operating import admin, ocpp_call
from tests.support.backends import sqlite_only_server
from tests.support.events import live_stream
from tests.support.waiting import wait_until
from tests.support.webhooks import Receiver, running_receiver

__all__ = ["admin", "sqlite_only_server"]

VOLTAGE = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Voltage"}}
TRIPPED = {
    "eventId": 7,
    "timestamp": "2026-03-02T10:00:00.000Z",
    "trigger": "Alerting",
    "actualValue": "251",
    "techCode": "OV1",
    "techInfo": "phase L1 over voltage",
    "eventNotificationType": "CustomMonitor",
    "variableMonitoringId": 100,
    **VOLTAGE,
}


@asynccontextmanager
async def booted_station(server: RunningServer) -> AsyncIterator[SimulatedStation]:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        assert (await station.boot()).status == "Accepted"
        yield station


@pytest.fixture
async def station(server: RunningServer) -> AsyncIterator[SimulatedStation]:
    async with booted_station(server) as station:
        yield station


async def read(http: httpx.AsyncClient, admin: dict[str, str], path: str, **params: Any) -> Any:
    response = await http.get(path, headers=admin, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def event(event_id: int, **fields: Any) -> dict[str, Any]:
    return {**TRIPPED, "eventId": event_id, **fields}


# -- NotifyEvent -----------------------------------------------------------------------------


async def test_notify_event_parts_are_stored_once_and_read_back_newest_first(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    cleared = event(8, cleared=True, cause=7, actualValue="229", timestamp="2026-03-02T10:05:00.000Z")
    periodic = {
        "eventId": 9,
        "timestamp": "2026-03-02T10:10:00.000Z",
        "trigger": "Periodic",
        "actualValue": "230",
        "eventNotificationType": "PreconfiguredMonitor",
        "component": {"name": "ChargingStation"},
        "variable": {"name": "Temperature", "instance": "Inside"},
        "transactionId": "tx-1",
    }
    await station.notify_event([TRIPPED, cleared], seq_no=0, tbc=True)
    await station.notify_event([periodic], seq_no=1)
    await station.notify_event([TRIPPED, cleared], seq_no=0, tbc=True)  # sent again: its answer was lost

    events = await read(http, admin, f"/api/admin/chargers/{station.id}/events")
    assert [(found["event_id"], found["seq_no"]) for found in events] == [(9, 1), (8, 0), (7, 0)]
    first = events[2]
    assert {name: value for name, value in first.items() if name not in ("id", "generated_at", "received_at")} == {
        "event_id": 7,
        "timestamp": "2026-03-02T10:00:00Z",
        "trigger": "Alerting",
        "cause": None,
        "actual_value": "251",
        "tech_code": "OV1",
        "tech_info": "phase L1 over voltage",
        "cleared": False,
        "transaction_id": None,
        "variable_monitoring_id": 100,
        "notification_type": "CustomMonitor",
        "component_name": "EVSE",
        "component_instance": "",
        "evse_id": 1,
        "evse_connector_id": 0,
        "variable_name": "Voltage",
        "variable_instance": "",
        "seq_no": 0,
    }
    assert (events[1]["cleared"], events[1]["cause"]) == (True, 7)
    assert (events[0]["variable_instance"], events[0]["transaction_id"]) == ("Inside", "tx-1")


async def test_the_event_log_filters_by_trigger_cleared_and_variable_and_pages_back(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    await station.notify_event(
        [
            event(1),
            event(2, cleared=True, timestamp="2026-03-02T10:01:00.000Z"),
            event(3, trigger="Delta", variable={"name": "Current"}, timestamp="2026-03-02T10:02:00.000Z"),
        ]
    )
    path = f"/api/admin/chargers/{station.id}/events"

    def ids(events: list[dict[str, Any]]) -> list[int]:
        return [found["event_id"] for found in events]

    assert ids(await read(http, admin, path, trigger="Alerting")) == [2, 1]
    assert ids(await read(http, admin, path, cleared="true")) == [2]
    assert ids(await read(http, admin, path, cleared="false", variable="Voltage")) == [1]
    newest = await read(http, admin, path, limit=1)
    assert ids(newest) == [3]
    assert ids(await read(http, admin, path, limit=5, before_id=newest[0]["id"])) == [2, 1]


async def test_the_event_log_refuses_an_unknown_trigger_and_an_unknown_charger(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    bad = await http.get(f"/api/admin/chargers/{station.id}/events", params={"trigger": "Sometimes"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "trigger"]
    unknown = await http.get("/api/admin/chargers/NO-SUCH-STATION/events", headers=admin)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "unknown charger NO-SUCH-STATION"})


@pytest.fixture(scope="module")
async def quick(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A node whose webhooks may post to the loopback receiver and are dispatched within a tenth of a second."""
    async with node_with(
        tmp_path_factory.mktemp("db-station-events"),
        webhook_allow_private_targets=True,
        webhook_poll_interval=0.1,
    ) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as receiver:
        yield receiver


async def test_a_station_event_is_shown_live_and_posted_to_a_webhook_subscribed_to_station_events(
    quick: RunningServer, receiver: Receiver
) -> None:
    async with httpx.AsyncClient(base_url=quick.http_url, timeout=10) as client:
        username, _ = await create_account_with_role(quick, "admin")
        tokens = await login_as(client, username)
        staff = bearer(tokens)
        hook = {"url": receiver.url, "events": ["station_event"]}
        assert (await client.post("/api/admin/webhooks", json=hook, headers=staff)).status_code == 201
        station_id = await quick.add_charger()
        async with (
            live_stream(quick.http_url, tokens) as live,
            connect_station(quick.ws_url, station_id, CHARGER_PASSWORD) as station,
        ):
            await station.boot()
            await station.notify_event([TRIPPED])
            await wait_until(lambda: receiver.events(station_id) and live.events("station_event"))
            await station.notify_event([TRIPPED])  # told again: no second announcement
            await station.heartbeat()

    expected = {
        "kind": "station_event",
        "charge_point_id": station_id,
        "event_id": 7,
        "timestamp": "2026-03-02T10:00:00+00:00",
        "trigger": "Alerting",
        "actual_value": "251",
        "notification_type": "CustomMonitor",
        "cause": None,
        "tech_code": "OV1",
        "tech_info": "phase L1 over voltage",
        "cleared": False,
        "transaction_id": None,
        "variable_monitoring_id": 100,
        "component_name": "EVSE",
        "component_instance": "",
        "evse_id": 1,
        "evse_connector_id": 0,
        "variable_name": "Voltage",
        "variable_instance": "",
    }
    [posted] = receiver.events(station_id)
    assert {name: value for name, value in posted.items() if name != "at"} == expected
    assert receiver.requests[0][0]["x-csms-event"] == "station_event"
    [shown] = [found for found in live.events("station_event") if found["charge_point_id"] == station_id]
    assert {name: value for name, value in shown.items() if name not in ("at", "node")} == expected


# -- Monitoring ------------------------------------------------------------------------------


async def monitoring_of(http: httpx.AsyncClient, admin: dict[str, str], station_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await read(http, admin, f"/api/admin/chargers/{station_id}/monitors")
    return found


def brief(monitors: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (found["monitor_id"], found["component_name"], found["evse_id"], found["variable_name"], found["monitor_type"],
         found["value"], found["severity"], found["transaction"], found["source"])
        for found in monitors
    ]  # fmt: skip


async def test_monitors_a_station_accepts_are_kept_with_the_ids_it_gave_and_forgotten_when_cleared(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    asked = {
        "setMonitoringData": [
            {"value": 250, "type": "UpperThreshold", "severity": 2, **VOLTAGE},
            {"id": 7, "value": 0.5, "type": "Delta", "severity": 5, "transaction": True,
             "component": {"name": "ChargingStation"}, "variable": {"name": "Temperature"}},
        ]
    }  # fmt: skip
    answer = await ocpp_call(http, admin, station.id, "SetVariableMonitoring", asked)
    assert answer.status_code == 200, answer.text
    assert [result["id"] for result in answer.json()["setMonitoringResult"]] == [100, 7]
    assert station.calls_received("SetVariableMonitoring") == [asked]  # as the operator sent it
    held = await monitoring_of(http, admin, station.id)
    assert brief(held["monitors"]) == [
        (7, "ChargingStation", 0, "Temperature", "Delta", "0.5", 5, True, "set"),
        (100, "EVSE", 1, "Voltage", "UpperThreshold", "250", 2, False, "set"),
    ]

    cleared = await ocpp_call(http, admin, station.id, "ClearVariableMonitoring", {"id": [100]})
    assert cleared.json() == {"clearMonitoringResult": [{"id": 100, "status": "Accepted"}]}
    assert station.calls_received("ClearVariableMonitoring") == [{"id": [100]}]
    assert [found["monitor_id"] for found in (await monitoring_of(http, admin, station.id))["monitors"]] == [7]


async def test_the_monitoring_base_and_level_a_station_accepts_are_kept(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    assert (await monitoring_of(http, admin, station.id)) == {
        "monitoring_base": None,
        "monitoring_level": None,
        "monitors": [],
    }
    await ocpp_call(http, admin, station.id, "SetVariableMonitoring", {
        "setMonitoringData": [{"value": 250, "type": "UpperThreshold", "severity": 2, **VOLTAGE}]
    })  # fmt: skip
    level = await ocpp_call(http, admin, station.id, "SetMonitoringLevel", {"severity": 4})
    base = await ocpp_call(http, admin, station.id, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
    assert level.json() == base.json() == {"status": "Accepted"}
    assert station.calls_received("SetMonitoringLevel") == [{"severity": 4}]
    assert station.calls_received("SetMonitoringBase") == [{"monitoringBase": "FactoryDefault"}]
    # FactoryDefault removes the custom monitors (2.0.1 N03.FR.04)
    assert (await monitoring_of(http, admin, station.id)) == {
        "monitoring_base": "FactoryDefault",
        "monitoring_level": 4,
        "monitors": [],
    }


async def test_a_monitoring_report_in_parts_is_kept_as_the_stations_monitors(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    asked = {"requestId": 42, "monitoringCriteria": ["ThresholdMonitoring", "PeriodicMonitoring"]}
    answer = await ocpp_call(http, admin, station.id, "GetMonitoringReport", asked)
    assert answer.json() == {"status": "Accepted"}
    assert station.calls_received("GetMonitoringReport") == [asked]

    voltage = {**VOLTAGE, "variableMonitoring": [
        {"id": 1, "transaction": False, "value": 260, "type": "UpperThreshold", "severity": 1},
        {"id": 2, "transaction": False, "value": 200, "type": "LowerThreshold", "severity": 1},
    ]}  # fmt: skip
    power = {
        "component": {"name": "ChargingStation"},
        "variable": {"name": "Power"},
        "variableMonitoring": [{"id": 3, "transaction": True, "value": 900, "type": "Periodic", "severity": 8}],
    }
    await station.notify_monitoring_report(42, 0, [voltage], tbc=True)
    await station.notify_monitoring_report(42, 1, [power], tbc=False)

    held = await monitoring_of(http, admin, station.id)
    assert brief(held["monitors"]) == [
        (3, "ChargingStation", 0, "Power", "Periodic", "900", 8, True, "reported"),
        (1, "EVSE", 1, "Voltage", "UpperThreshold", "260", 1, False, "reported"),
        (2, "EVSE", 1, "Voltage", "LowerThreshold", "200", 1, False, "reported"),
    ]


# -- CustomerInformation ---------------------------------------------------------------------


async def test_a_customer_information_request_is_sent_and_its_parts_read_back_joined_in_order(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    body = {"report": True, "clear": True, "id_token": {"value": "CARD-0042", "type": "ISO14443"}}
    sent = await http.post(f"/api/admin/chargers/{station.id}/customer_information", json=body, headers=admin)
    assert sent.status_code == 201, sent.text
    request_id = sent.json()["request_id"]
    assert sent.json() == {"request_id": request_id, "charge_point_id": station.id, "status": "Accepted"}
    assert station.calls_received("CustomerInformation") == [
        {
            "requestId": request_id,
            "report": True,
            "clear": True,
            "idToken": {"idToken": "CARD-0042", "type": "ISO14443"},
        }
    ]
    path = f"/api/admin/chargers/{station.id}/customer_information/{request_id}"
    await station.notify_customer_information(request_id, 1, "last charge 2026-03-01;", tbc=True)
    incomplete = await read(http, admin, path)
    assert (incomplete["parts"], incomplete["complete"]) == (1, False)

    await station.notify_customer_information(request_id, 0, "card CARD-0042 in local list;", tbc=True)
    await station.notify_customer_information(request_id, 2, " data cleared", tbc=False)
    assert await read(http, admin, path) == {
        "request_id": request_id,
        "charge_point_id": station.id,
        "status": "Accepted",
        "report": True,
        "clear": True,
        "parts": 3,
        "complete": True,
        "text": "card CARD-0042 in local list;last charge 2026-03-01; data cleared",
    }


async def test_customer_information_names_a_customer_by_identifier_or_certificate(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    path = f"/api/admin/chargers/{station.id}/customer_information"
    certificate = {"hash_algorithm": "SHA256", "issuer_name_hash": "aa", "issuer_key_hash": "bb", "serial_number": "01"}
    by_identifier = await http.post(
        path, json={"report": True, "clear": False, "customer_identifier": "C-7"}, headers=admin
    )
    by_certificate = await http.post(
        path, json={"report": False, "clear": True, "customer_certificate": certificate}, headers=admin
    )
    assert by_identifier.status_code == by_certificate.status_code == 201, (by_identifier.text, by_certificate.text)
    assert station.calls_received("CustomerInformation") == [
        {"requestId": by_identifier.json()["request_id"], "report": True, "clear": False, "customerIdentifier": "C-7"},
        {
            "requestId": by_certificate.json()["request_id"],
            "report": False,
            "clear": True,
            "customerCertificate": {
                "hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"
            },
        },
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"report": False, "clear": False, "customer_identifier": "C-7"},
            "a request asks for a report, a clear or both",
        ),
        ({"report": True, "clear": False}, "name the customer: id_token, customer_identifier or customer_certificate"),
    ],
)
async def test_a_customer_information_request_that_asks_nothing_or_names_no_one_is_refused(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation, body: dict[str, Any], detail: str
) -> None:
    refused = await http.post(f"/api/admin/chargers/{station.id}/customer_information", json=body, headers=admin)
    assert (refused.status_code, refused.json()) == (422, {"detail": detail})
    assert station.calls_received("CustomerInformation") == []


@pytest.mark.parametrize(
    "body",
    [
        {"clear": True, "customer_identifier": "C-7"},
        {"report": True, "clear": True, "id_token": {"value": "CARD", "type": "Barcode"}},
        {"report": True, "clear": True, "customer_identifier": "C-7", "reason": "gdpr"},
        {"report": "yes please", "clear": True, "customer_identifier": "C-7"},
    ],
)
async def test_a_malformed_customer_information_body_gets_422_json(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation, body: dict[str, Any]
) -> None:
    refused = await http.post(f"/api/admin/chargers/{station.id}/customer_information", json=body, headers=admin)
    assert refused.status_code == 422 and isinstance(refused.json()["detail"], list), refused.text


async def test_customer_information_is_refused_for_a_16_charger(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        body = {"report": True, "clear": False, "customer_identifier": "C-7"}
        refused = await http.post(f"/api/admin/chargers/{charger_id}/customer_information", json=body, headers=admin)
    assert (refused.status_code, refused.json()) == (
        422,
        {"detail": f"charger {charger_id} speaks OCPP 1.6: CustomerInformation is not supported on 1.6"},
    )
    assert [received.action for received in charger.received] == []


async def test_an_unknown_customer_information_request_is_not_found(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    missing = await http.get(f"/api/admin/chargers/{station.id}/customer_information/999999", headers=admin)
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": f"no customer information request 999999 for charger {station.id}"},
    )


async def test_customer_information_for_a_16_charger_not_booted_yet_is_refused_by_its_spelling(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        body = {"report": True, "clear": False, "customer_identifier": "C-7"}
        refused = await http.post(f"/api/admin/chargers/{charger_id}/customer_information", json=body, headers=admin)
    assert (refused.status_code, refused.json()) == (
        422,
        {
            "detail": "CustomerInformation cannot be sent to an OCPP 1.6 charger: OCPP 1.6 has no such call"
            " (not supported on 1.6)"
        },
    )
    assert [received.action for received in charger.received] == []


async def test_the_monitor_endpoints_set_and_clear_a_monitor_and_keep_what_the_station_accepted(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    path = f"/api/admin/chargers/{station.id}/monitors"
    body = {
        "component": {"name": "EVSE", "evse_id": 1},
        "variable": {"name": "Voltage"},
        "type": "UpperThreshold",
        "value": 250,
        "severity": 2,
    }
    created = await http.post(path, json=body, headers=admin)
    assert (created.status_code, created.json()) == (200, {"status": "Accepted", "monitor_id": 100})
    assert station.calls_received("SetVariableMonitoring") == [
        {
            "setMonitoringData": [
                {"value": 250, "type": "UpperThreshold", "severity": 2, "transaction": False, **VOLTAGE}
            ]
        }
    ]
    assert brief((await monitoring_of(http, admin, station.id))["monitors"]) == [
        (100, "EVSE", 1, "Voltage", "UpperThreshold", "250", 2, False, "set")
    ]

    cleared = await http.delete(f"{path}/100", headers=admin)
    assert (cleared.status_code, cleared.json()) == (200, {"status": "Accepted"})
    assert station.calls_received("ClearVariableMonitoring") == [{"id": [100]}]
    assert (await monitoring_of(http, admin, station.id))["monitors"] == []


@pytest.mark.parametrize(
    "body",
    [
        {
            "component": {"name": "EVSE"},
            "variable": {"name": "Voltage"},
            "type": "Sometimes",
            "value": 1,
            "severity": 2,
        },
        {"component": {"name": "EVSE"}, "variable": {"name": "Voltage"}, "type": "Delta", "value": 1, "severity": 10},
        {"component": {"name": "EVSE"}, "type": "Delta", "value": 1, "severity": 2},
        {"component": {"name": ""}, "variable": {"name": "Voltage"}, "type": "Delta", "value": 1, "severity": 2},
    ],
)
async def test_a_malformed_monitor_gets_422_json_and_is_not_sent(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation, body: dict[str, Any]
) -> None:
    refused = await http.post(f"/api/admin/chargers/{station.id}/monitors", json=body, headers=admin)
    assert refused.status_code == 422 and isinstance(refused.json()["detail"], list), refused.text
    assert station.calls_received("SetVariableMonitoring") == []


async def test_a_monitor_for_a_16_charger_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        body = {
            "component": {"name": "EVSE"},
            "variable": {"name": "Voltage"},
            "type": "Delta",
            "value": 1,
            "severity": 2,
        }
        refused = await http.post(f"/api/admin/chargers/{charger_id}/monitors", json=body, headers=admin)
    assert (refused.status_code, refused.json()) == (
        422,
        {"detail": f"charger {charger_id} speaks OCPP 1.6: monitoring is not supported on 1.6"},
    )
    assert [received.action for received in charger.received] == []
