"""A 2.0.1 station's device model through the API: its NotifyReport browsed and filtered, edits checked
against what it reported and sent as one SetVariables (the frame the station received is asserted), its
answer per variable returned and kept, and the model refreshed with GetVariables or GetBaseReport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ocpp.v201 import call_result

from csms.domain.commands import (
    GetVariables,
    RequestBaseReport,
    SetVariables,
    VariableRef,
    VariableSetting,
    command_action,
    command_fields,
    command_from,
)
from csms.simulator.charger import connect_charger
from csms.simulator.station201 import SimulatedStation, StationBehaviour, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as
from tests.support.backends import sqlite_only_server

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only

HEARTBEAT = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "HeartbeatInterval"},
    "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite", "persistent": True}],
    "variableCharacteristics": {
        "unit": "s",
        "dataType": "integer",
        "minLimit": 1,
        "maxLimit": 86400,
        "supportsMonitoring": False,
    },
}
REMOTE_START = {
    "component": {"name": "AuthCtrlr"},
    "variable": {"name": "AuthorizeRemoteStart"},
    "variableAttribute": [{"value": "true"}],
    "variableCharacteristics": {"dataType": "boolean", "supportsMonitoring": False},
}
CACHE_POLICY = {
    "component": {"name": "AuthCacheCtrlr"},
    "variable": {"name": "Policy"},
    "variableAttribute": [{"value": "LRU", "mutability": "ReadWrite"}],
    "variableCharacteristics": {
        "dataType": "OptionList",
        "valuesList": "LRU,LFU,FIFO,CUSTOM",
        "supportsMonitoring": False,
    },
}
TX_START_POINT = {
    "component": {"name": "TxCtrlr"},
    "variable": {"name": "TxStartPoint"},
    "variableAttribute": [{"value": "PowerPathClosed", "mutability": "ReadWrite"}],
    "variableCharacteristics": {
        "dataType": "MemberList",
        "valuesList": "EVConnected,Authorized,PowerPathClosed,EnergyTransfer",
        "maxLimit": 60,
        "supportsMonitoring": False,
    },
}
CONNECTOR_TYPE = {
    "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
    "variable": {"name": "ConnectorType"},
    "variableAttribute": [{"value": "cType2", "mutability": "ReadOnly", "constant": True}],
    "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
}
EVSE_POWER = {
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
    "variableAttribute": [
        {"type": "Actual", "value": "0", "mutability": "ReadOnly"},
        {"type": "MaxSet", "value": "22000", "mutability": "ReadWrite", "persistent": True},
    ],
    "variableCharacteristics": {"unit": "W", "dataType": "decimal", "maxLimit": 22000, "supportsMonitoring": True},
}
REPORT = [HEARTBEAT, REMOTE_START, CACHE_POLICY, TX_START_POINT, CONNECTOR_TYPE, EVSE_POWER]


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username))


async def reported_station(server: RunningServer, station: SimulatedStation) -> None:
    await station.notify_report(1, 0, REPORT[:3], tbc=True)
    await station.notify_report(1, 1, REPORT[3:], tbc=False)


def variables_url(station_id: str, query: str = "") -> str:
    return f"/api/admin/chargers/{station_id}/variables{query}"


def names(rows: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    return [(row["component_name"], row["evse_id"], row["variable_name"], row["attribute_type"]) for row in rows]


def answering(*results: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """A SetVariables answer of these results (snake_case, as the `ocpp` package takes them)."""
    return lambda payload: call_result.SetVariables(set_variable_result=list(results))


async def test_a_report_is_browsable_with_its_attributes_and_characteristics(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await reported_station(server, station)

    everything = await http.get(variables_url(station_id), headers=admin)
    assert everything.status_code == 200, everything.text
    heartbeat = next(row for row in everything.json() if row["variable_name"] == "HeartbeatInterval")
    assert {key: value for key, value in heartbeat.items() if key != "updated_at"} == {
        "component_name": "OCPPCommCtrlr",
        "component_instance": "",
        "evse_id": 0,
        "evse_connector_id": 0,
        "variable_name": "HeartbeatInterval",
        "variable_instance": "",
        "attribute_type": "Actual",
        "value": "300",
        "mutability": "ReadWrite",
        "persistent": True,
        "constant": False,
        "data_type": "integer",
        "characteristics": {
            "unit": "s",
            "data_type": "integer",
            "min_limit": 1,
            "max_limit": 86400,
            "values_list": None,
            "supports_monitoring": False,
        },
    }
    assert names(everything.json()) == [
        ("AuthCacheCtrlr", 0, "Policy", "Actual"),
        ("AuthCtrlr", 0, "AuthorizeRemoteStart", "Actual"),
        ("Connector", 1, "ConnectorType", "Actual"),
        ("EVSE", 1, "Power", "Actual"),
        ("EVSE", 1, "Power", "MaxSet"),
        ("OCPPCommCtrlr", 0, "HeartbeatInterval", "Actual"),
        ("TxCtrlr", 0, "TxStartPoint", "Actual"),
    ]
    connector = next(row for row in everything.json() if row["component_name"] == "Connector")
    assert (connector["mutability"], connector["constant"], connector["persistent"]) == ("ReadOnly", True, False)

    async def browse(query: str) -> list[tuple[str, int, str, str]]:
        response = await http.get(variables_url(station_id, query), headers=admin)
        assert response.status_code == 200, response.text
        return names(response.json())

    assert await browse("?component=EVSE&variable=Power") == [
        ("EVSE", 1, "Power", "Actual"),
        ("EVSE", 1, "Power", "MaxSet"),
    ]
    assert await browse("?attribute_type=MaxSet") == [("EVSE", 1, "Power", "MaxSet")]
    assert await browse("?evse_id=1&connector_id=1") == [("Connector", 1, "ConnectorType", "Actual")]
    assert len(await browse("?evse_id=0")) == 4  # the station's own components
    page = await http.get(variables_url(station_id, "?limit=2&offset=5"), headers=admin)
    assert page.headers["X-Total-Count"] == "7"
    assert await browse("?limit=2&offset=5") == [
        ("OCPPCommCtrlr", 0, "HeartbeatInterval", "Actual"),
        ("TxCtrlr", 0, "TxStartPoint", "Actual"),
    ]
    assert await browse("?component=Nothing") == []


async def test_an_edit_is_one_set_variables_and_what_the_station_took_is_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    behaviour = StationBehaviour()
    behaviour.answers["SetVariables"] = answering(
        {
            "attribute_status": "Accepted",
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
        },
        {
            "attribute_status": "RebootRequired",
            "attribute_type": "MaxSet",
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
        },
        {
            "attribute_status": "Rejected",
            "attribute_status_info": {"reason_code": "InvalidValue", "additional_info": "not while charging"},
            "component": {"name": "AuthCacheCtrlr"},
            "variable": {"name": "Policy"},
        },
    )
    edits = [
        {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "60"},
        {
            "component_name": "EVSE",
            "evse_id": 1,
            "variable_name": "Power",
            "attribute_type": "MaxSet",
            "value": "11000.5",
        },
        {"component_name": "AuthCacheCtrlr", "variable_name": "Policy", "value": "FIFO"},
    ]
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        await reported_station(server, station)
        response = await http.put(variables_url(station_id), json={"variables": edits}, headers=admin)
        assert response.status_code == 200, response.text
        assert station.calls_received("SetVariables") == [
            {
                "setVariableData": [
                    {
                        "attributeType": "Actual",
                        "attributeValue": "60",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    },
                    {
                        "attributeType": "MaxSet",
                        "attributeValue": "11000.5",
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Power"},
                    },
                    {
                        "attributeType": "Actual",
                        "attributeValue": "FIFO",
                        "component": {"name": "AuthCacheCtrlr"},
                        "variable": {"name": "Policy"},
                    },
                ]
            }
        ]
    results = response.json()
    assert [(r["variable_name"], r["attribute_type"], r["status"]) for r in results] == [
        ("HeartbeatInterval", "Actual", "Accepted"),
        ("Power", "MaxSet", "RebootRequired"),
        ("Policy", "Actual", "Rejected"),
    ]
    assert (results[2]["reason_code"], results[2]["additional_info"]) == ("InvalidValue", "not while charging")

    # What the station took on shows at once, its mutability and characteristics kept; the refusal changed nothing.
    stored = {
        (r["variable_name"], r["attribute_type"]): r
        for r in (await http.get(variables_url(station_id), headers=admin)).json()
    }
    assert stored["HeartbeatInterval", "Actual"]["value"] == "60"
    assert stored["HeartbeatInterval", "Actual"]["mutability"] == "ReadWrite"
    assert stored["HeartbeatInterval", "Actual"]["characteristics"]["max_limit"] == 86400
    assert stored["Power", "MaxSet"]["value"] == "11000.5"
    assert stored["Policy", "Actual"]["value"] == "LRU"


@pytest.mark.parametrize(
    ("edit", "status", "words"),
    [
        ({"component_name": "Connector", "evse_id": 1, "evse_connector_id": 1, "variable_name": "ConnectorType"}, 409, "ReadOnly"),
        ({"component_name": "EVSE", "evse_id": 1, "variable_name": "Power"}, 409, "ReadOnly"),
        ({"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "86401"}, 422, "maxLimit 86400"),
        ({"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "0"}, 422, "minLimit 1"),
        ({"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "sixty"}, 422, "integer"),
        ({"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "60.5"}, 422, "integer"),
        ({"component_name": "EVSE", "evse_id": 1, "variable_name": "Power", "attribute_type": "MaxSet", "value": "1e9"}, 422, "maxLimit"),
        ({"component_name": "AuthCtrlr", "variable_name": "AuthorizeRemoteStart", "value": "yes"}, 422, "boolean"),
        ({"component_name": "AuthCacheCtrlr", "variable_name": "Policy", "value": "MRU"}, 422, "one of LRU"),
        ({"component_name": "TxCtrlr", "variable_name": "TxStartPoint", "value": "Authorized,Plugged"}, 422, "'Plugged'"),
    ],
    ids=["read-only", "read-only-actual", "above-max", "below-min", "not-integer", "decimal-for-integer",
         "above-max-decimal", "not-boolean", "not-in-option-list", "not-in-member-list"],
)  # fmt: skip
async def test_an_edit_the_reported_model_forbids_never_leaves(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], edit: dict[str, Any], status: int, words: str
) -> None:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await reported_station(server, station)
        allowed = {"component_name": "OCPPCommCtrlr", "variable_name": "MessageTimeout", "value": "30"}
        body = {"variables": [allowed, {"value": "1", **edit}]}
        response = await http.put(variables_url(station_id), json=body, headers=admin)
        assert station.calls_received("SetVariables") == []
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail.startswith("variables[1]") and words in detail, detail
    if status == 422:
        assert detail.startswith("variables[1].value:")


async def test_a_variable_the_model_does_not_know_is_sent_and_the_stations_answer_returned(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    behaviour = StationBehaviour()
    behaviour.answers["SetVariables"] = answering(
        {"attribute_status": "UnknownVariable", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}}
    )
    edit = {"component_name": "OCPPCommCtrlr", "variable_name": "Nope", "value": "anything"}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        await reported_station(server, station)
        response = await http.put(variables_url(station_id), json={"variables": [edit]}, headers=admin)
        assert len(station.calls_received("SetVariables")) == 1
    assert response.status_code == 200, response.text
    assert [(r["variable_name"], r["status"]) for r in response.json()] == [("Nope", "UnknownVariable")]
    kept = await http.get(variables_url(station_id, "?variable=Nope"), headers=admin)
    assert kept.json() == []


async def test_a_new_password_through_the_edit_is_never_echoed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    password = "a-new-password-for-the-station"
    edit = {"component_name": "SecurityCtrlr", "variable_name": "BasicAuthPassword", "value": password}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        response = await http.put(variables_url(station_id), json={"variables": [edit]}, headers=admin)
        assert station.calls_received("SetVariables")[0]["setVariableData"][0]["attributeValue"] == password
    assert response.status_code == 200, response.text
    assert response.json()[0]["status"] == "Accepted" and password not in response.text
    stored = await http.get(variables_url(station_id), headers=admin)
    assert password not in stored.text
    # A password csms would refuse never leaves.
    async with connect_station(server.ws_url, station_id, password) as station:
        short = {**edit, "value": "Zq7"}
        refused = await http.put(variables_url(station_id), json={"variables": [short]}, headers=admin)
        assert station.calls_received("SetVariables") == []
    assert refused.status_code == 422 and "Zq7" not in refused.text


async def test_the_same_variable_twice_in_one_edit_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    edit = {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "60"}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD):
        response = await http.put(variables_url(station_id), json={"variables": [edit, edit]}, headers=admin)
    assert response.status_code == 422 and response.json()["detail"].startswith("variables[1]:"), response.text


async def test_a_16_charger_has_no_device_model_to_edit(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    edit = {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "60"}
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        edited = await http.put(variables_url(charge_point_id), json={"variables": [edit]}, headers=admin)
        refreshed = await http.post(variables_url(charge_point_id, "/refresh"), json={}, headers=admin)
        assert charger.received == []
    for response in (edited, refreshed):
        assert response.status_code == 422, response.text
        assert "1.6" in response.json()["detail"] and "configuration" in response.json()["detail"]


async def test_an_edit_for_a_station_offline_is_the_usual_not_connected(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await reported_station(server, station)
    edit = {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "60"}
    response = await http.put(variables_url(station_id), json={"variables": [edit]}, headers=admin)
    generic = await http.post(f"/api/admin/chargers/{station_id}/ocpp/Reset", json={"type": "Immediate"}, headers=admin)
    assert response.status_code == generic.status_code == 409, response.text
    assert response.json() == generic.json()
    kept = await http.get(variables_url(station_id, "?variable=HeartbeatInterval"), headers=admin)
    assert kept.json()[0]["value"] == "300"


async def test_a_refresh_reads_the_named_variables_again_and_keeps_them(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    behaviour = StationBehaviour(variables={("OCPPCommCtrlr", "HeartbeatInterval"): "900"})
    wanted = [
        {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval"},
        {"component_name": "EVSE", "evse_id": 1, "variable_name": "Power", "attribute_type": "MaxSet"},
    ]
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        await reported_station(server, station)
        response = await http.post(variables_url(station_id, "/refresh"), json={"variables": wanted}, headers=admin)
        assert station.calls_received("GetVariables") == [
            {
                "getVariableData": [
                    {"attributeType": "Actual", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                    {"attributeType": "MaxSet", "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}},
                ]
            }
        ]  # fmt: skip
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["variable_name"], r["status"], r["value"]) for r in results] == [
        ("HeartbeatInterval", "Accepted", "900"),
        ("Power", "UnknownVariable", None),  # the simulated station knows only what its behaviour holds
    ]
    kept = (await http.get(variables_url(station_id, "?variable=HeartbeatInterval"), headers=admin)).json()
    assert (kept[0]["value"], kept[0]["mutability"], kept[0]["data_type"]) == ("900", "ReadWrite", "integer")


async def test_a_refresh_of_nothing_asks_for_a_full_report(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        response = await http.post(variables_url(station_id, "/refresh"), json={}, headers=admin)
        assert response.status_code == 200, response.text
        sent = station.calls_received("GetBaseReport")
    request_id = response.json()["request_id"]
    assert sent == [{"requestId": request_id, "reportBase": "FullInventory"}]
    assert response.json() == {"request_id": request_id, "status": "Accepted", "results": []}


def test_device_model_commands_cross_the_bus_unchanged() -> None:
    # A call for a station held by another node travels as JSON fields and is rebuilt there.
    name = VariableRef("EVSE", "Power", attribute_type="MaxSet", evse_id=1, variable_instance="L1")
    for command in (
        SetVariables((VariableSetting(name, "11000"), VariableSetting(VariableRef("AuthCtrlr", "Enabled"), "true"))),
        GetVariables((name,)),
        RequestBaseReport(7, "ConfigurationInventory"),
    ):
        fields = json.loads(json.dumps(command_fields(command)))
        assert command_from(command_action(command), fields) == command


async def test_a_21_station_is_edited_as_a_201_one(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    edit = {"component_name": "OCPPCommCtrlr", "variable_name": "HeartbeatInterval", "value": "120"}
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, ocpp_version="2.1") as station:
        await reported_station(server, station)
        response = await http.put(variables_url(station_id), json={"variables": [edit]}, headers=admin)
        sent = station.calls_received("SetVariables")
    assert response.status_code == 200 and response.json()[0]["status"] == "Accepted", response.text
    assert sent == [
        {
            "setVariableData": [
                {
                    "attributeType": "Actual",
                    "attributeValue": "120",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        }
    ]
