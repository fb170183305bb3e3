"""Display messages (OCPP 2.0.1 block O): an operator puts a message on one station or a group
(SetDisplayMessage), every station's outcome is reported (a 1.6 charger as NotSupported, an offline one as
NotConnected), the messages are listed and cleared (ClearDisplayMessage), and what a station reports of its
display (GetDisplayMessages, NotifyDisplayMessages in parts) is read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from ocpp.v201 import call_result

from csms.simulator.charger import connect_charger
from csms.simulator.station201 import SimulatedStation, StationBehaviour, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import admin, ocpp_call
from tests.support.backends import sqlite_only_server

__all__ = ["admin", "sqlite_only_server"]

PATH = "/api/admin/display_messages"


@asynccontextmanager
async def booted_station(
    server: RunningServer, behaviour: StationBehaviour | None = None
) -> AsyncIterator[SimulatedStation]:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        assert (await station.boot()).status == "Accepted"
        yield station


@pytest.fixture
async def station(server: RunningServer) -> AsyncIterator[SimulatedStation]:
    async with booted_station(server) as station:
        yield station


async def put(http: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(PATH, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def statuses(message: dict[str, Any]) -> dict[str, str]:
    return {row["charge_point_id"]: row["status"] for row in message["stations"]}


async def test_a_message_for_a_group_reaches_each_201_station_and_reports_16_and_offline_ones(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    offline = await server.add_charger()
    old_charger = await server.add_charger()
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(booted_station(server))
        second = await stack.enter_async_context(booted_station(server))
        charger = await stack.enter_async_context(connect_charger(server.ws_url, old_charger, CHARGER_PASSWORD))
        await charger.boot()
        body = {
            "charge_point_ids": [first.id, second.id, old_charger, offline],
            "message": {"content": "Maintenance on Friday 8-10h", "language": "en"},
            "priority": "InFront",
            "start_at": "2026-03-02T08:00:00Z",
            "end_at": "2026-03-06T10:00:00+00:00",
        }
        created = await put(http, admin, body)

        message_id = created["id"]
        sent = {
            "message": {
                "id": message_id,
                "priority": "InFront",
                "message": {"format": "UTF8", "language": "en", "content": "Maintenance on Friday 8-10h"},
                "startDateTime": "2026-03-02T08:00:00.000Z",
                "endDateTime": "2026-03-06T10:00:00.000Z",
            }
        }
        assert first.calls_received("SetDisplayMessage") == second.calls_received("SetDisplayMessage") == [sent]
        assert [received.action for received in charger.received] == []
    assert statuses(created) == {
        first.id: "Accepted",
        second.id: "Accepted",
        old_charger: "NotSupported",
        offline: "NotConnected",
    }
    assert {name: created[name] for name in ("content", "language", "format", "priority", "state", "cleared_at")} == {
        "content": "Maintenance on Friday 8-10h",
        "language": "en",
        "format": "UTF8",
        "priority": "InFront",
        "state": None,
        "cleared_at": None,
    }
    assert (created["start_at"], created["end_at"]) == ("2026-03-02T08:00:00Z", "2026-03-06T10:00:00Z")
    listed = (await http.get(PATH, headers=admin)).json()
    assert [message for message in listed if message["id"] == message_id] == [created]


async def test_a_station_refusing_a_message_is_reported_with_its_answer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    def refuse(payload: dict[str, Any]) -> Any:
        return call_result.SetDisplayMessage(status="NotSupportedPriority")

    behaviour = StationBehaviour(answers={"SetDisplayMessage": refuse})
    async with booted_station(server, behaviour) as station:
        body = {
            "charge_point_ids": [station.id],
            "message": {"content": "<b>Free parking</b>", "format": "HTML"},
            "priority": "AlwaysFront",
            "state": "Idle",
            "transaction_id": "tx-9",
        }
        created = await put(http, admin, body)
    assert statuses(created) == {station.id: "NotSupportedPriority"}
    assert station.calls_received("SetDisplayMessage") == [
        {
            "message": {
                "id": created["id"],
                "priority": "AlwaysFront",
                "message": {"format": "HTML", "content": "<b>Free parking</b>"},
                "state": "Idle",
                "transactionId": "tx-9",
            }
        }
    ]


async def test_clearing_a_message_sends_clear_display_message_to_the_stations_holding_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    offline = await server.add_charger()
    body = {"charge_point_ids": [station.id, offline], "message": {"content": "Hi"}, "priority": "NormalCycle"}
    created = await put(http, admin, body)

    cleared = await http.delete(f"{PATH}/{created['id']}", headers=admin)

    assert cleared.status_code == 200, cleared.text
    assert station.calls_received("ClearDisplayMessage") == [{"id": created["id"]}]
    assert statuses(cleared.json()) == {station.id: "Cleared", offline: "NotConnected"}
    assert cleared.json()["cleared_at"] is not None
    again = await http.delete(f"{PATH}/{created['id']}", headers=admin)
    assert (again.status_code, again.json()) == (409, {"detail": f"display message {created['id']} is already cleared"})
    assert len(station.calls_received("ClearDisplayMessage")) == 1


async def test_clearing_an_unknown_message_is_not_found(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    missing = await http.delete(f"{PATH}/999999", headers=admin)
    assert (missing.status_code, missing.json()) == (404, {"detail": "display message 999999 not found"})


async def test_what_a_station_reports_of_its_display_is_kept_per_station(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    asked = {"requestId": 5, "priority": "InFront"}
    answer = await ocpp_call(http, admin, station.id, "GetDisplayMessages", asked)
    assert answer.json() == {"status": "Accepted"}
    assert station.calls_received("GetDisplayMessages") == [asked]

    welcome = {
        "id": 11,
        "priority": "InFront",
        "message": {"format": "UTF8", "content": "Welcome", "language": "nl"},
        "display": {"name": "Display", "instance": "front"},
    }
    tariff = {
        "id": 12,
        "priority": "NormalCycle",
        "state": "Charging",
        "startDateTime": "2026-03-02T08:00:00Z",
        "message": {"format": "ASCII", "content": "0.30 EUR/kWh"},
    }
    await station.notify_display_messages(5, [welcome], tbc=True)
    await station.notify_display_messages(5, [tariff], tbc=False)

    reported = (await http.get(f"/api/admin/chargers/{station.id}/display_messages", headers=admin)).json()
    assert [
        {name: value for name, value in message.items() if name != "reported_at"} for message in reported
    ] == [
        {
            "message_id": 11, "request_id": 5, "content": "Welcome", "language": "nl", "format": "UTF8",
            "priority": "InFront", "state": None, "start_at": None, "end_at": None, "transaction_id": None,
            "display": "Display/front",
        },
        {
            "message_id": 12, "request_id": 5, "content": "0.30 EUR/kWh", "language": None, "format": "ASCII",
            "priority": "NormalCycle", "state": "Charging", "start_at": "2026-03-02T08:00:00Z", "end_at": None,
            "transaction_id": None, "display": None,
        },
    ]  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"charge_point_ids": [], "message": {"content": "Hi"}, "priority": "InFront"},
        {"charge_point_ids": ["X"], "message": {"content": "Hi", "format": "PDF"}, "priority": "InFront"},
        {"charge_point_ids": ["X"], "message": {"content": ""}, "priority": "InFront"},
        {"charge_point_ids": ["X"], "message": {"content": "Hi"}, "priority": "Urgent"},
        {
            "charge_point_ids": ["X"],
            "message": {"content": "Hi"},
            "priority": "InFront",
            "start_at": "2026-03-02T08:00",
        },
        {"charge_point_ids": ["X"], "message": {"content": "Hi"}},
        {"charge_point_ids": ["X"], "message": {"content": "Hi"}, "priority": "InFront", "colour": "red"},
    ],
)
async def test_a_malformed_display_message_gets_422_json(
    http: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    refused = await http.post(PATH, json=body, headers=admin)
    assert refused.status_code == 422 and isinstance(refused.json()["detail"], list), refused.text


async def test_a_window_ending_before_it_starts_and_an_unknown_station_are_refused(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    window = {"start_at": "2026-03-02T10:00:00Z", "end_at": "2026-03-02T09:00:00Z"}
    backwards = {"charge_point_ids": [station.id], "message": {"content": "Hi"}, "priority": "InFront", **window}
    refused = await http.post(PATH, json=backwards, headers=admin)
    assert (refused.status_code, refused.json()) == (422, {"detail": "end_at must be after start_at"})
    unknown = {"charge_point_ids": [station.id, "NO-SUCH-STATION"], "message": {"content": "Hi"}, "priority": "InFront"}
    missing = await http.post(PATH, json=unknown, headers=admin)
    assert (missing.status_code, missing.json()) == (404, {"detail": "unknown chargers ['NO-SUCH-STATION']"})
    assert station.calls_received("SetDisplayMessage") == []


async def test_a_16_charger_csms_knows_no_version_of_yet_is_reported_not_supported_by_its_spelling(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Connected without a boot: csms learns a charger's version at boot, so the 1.6 spelling refuses it.
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        created = await put(
            http, admin, {"charge_point_ids": [charger_id], "message": {"content": "Hi"}, "priority": "InFront"}
        )
    assert statuses(created) == {charger_id: "NotSupported"}
    assert [received.action for received in charger.received] == []
