"""Local authorization lists on OCPP 2.0.1 stations (block D): SendLocalList Full and Differential built from
csms's idTags, spelled as idTokens with their type, kept in sync when a tag changes, GetLocalListVersion,
and the state read back through the API, on the same rules as 1.6 (test_local_list.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ocpp.v201 import call_result

from csms.simulator.station201 import SimulatedStation, StationBehaviour
from tests.conftest import RunningServer, bearer, signup
from tests.operating import admin, booted_station, new_tag, ocpp_call, send_list
from tests.support.backends import sqlite_only_server
from tests.support.waiting import poll

__all__ = ["admin", "sqlite_only_server"]


async def held_list(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/admin/chargers/{charge_point_id}/local_list", headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def nth_local_list(station: SimulatedStation, count: int) -> dict[str, Any]:
    async def sent() -> list[dict[str, Any]]:
        return station.calls_received("SendLocalList")

    return (await poll(sent, until=lambda lists: len(lists) >= count))[count - 1]


def by_token(sent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["idToken"]["idToken"]: entry for entry in sent["localAuthorizationList"]}


@pytest.fixture
async def station(server: RunningServer) -> AsyncIterator[SimulatedStation]:
    async with booted_station(server, evses=1) as station:
        yield station


async def test_a_full_list_carries_every_idtag_as_an_idtoken_with_its_type_and_info(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    expiry = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    card = await new_tag(http, admin, parent_id_tag="FLEET", expiry_date=expiry.isoformat())
    blocked = await new_tag(http, admin, status="Blocked")
    driver = await signup(http)
    app_tag = (await http.get("/api/me/id_tags", headers=bearer(driver))).json()[0]["id_tag"]

    answer = await send_list(http, admin, station.id, "Full")
    sent = await nth_local_list(station, 1)

    assert answer == {"status": "Accepted", "list_version": 1, "update_type": "Full", "entries": answer["entries"]}
    assert (sent["versionNumber"], sent["updateType"]) == (1, "Full") and set(sent) == {
        "versionNumber",
        "updateType",
        "localAuthorizationList",
    }
    entries = by_token(sent)
    assert len(entries) == answer["entries"]
    assert entries[card] == {
        "idToken": {"idToken": card, "type": "ISO14443"},
        "idTokenInfo": {
            "status": "Accepted",
            "cacheExpiryDateTime": "2031-05-06T07:08:09.000Z",
            "groupIdToken": {"idToken": "FLEET", "type": "Central"},
        },
    }
    assert entries[blocked] == {
        "idToken": {"idToken": blocked, "type": "ISO14443"},
        "idTokenInfo": {"status": "Blocked"},
    }
    # the app's own token is one csms hands out: type Central, as in the app's RequestStartTransaction
    assert entries[app_tag] == {
        "idToken": {"idToken": app_tag, "type": "Central"},
        "idTokenInfo": {"status": "Accepted"},
    }
    held = await held_list(http, admin, station.id)
    assert held["list_version"] == 1
    assert {entry["id_tag"]: entry["status"] for entry in held["entries"] if entry["id_tag"] in (card, blocked)} == {
        card: "Accepted",
        blocked: "Blocked",
    }


async def test_blocking_a_tag_through_the_admin_api_is_pushed_as_a_differential_list(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    id_tag = await new_tag(http, admin)
    await send_list(http, admin, station.id, "Full")
    response = await http.patch(f"/api/admin/id_tags/{id_tag}", json={"status": "Blocked"}, headers=admin)
    assert response.status_code == 200, response.text

    blocked = await nth_local_list(station, 2)

    assert blocked == {
        "versionNumber": 2,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idToken": {"idToken": id_tag, "type": "ISO14443"}, "idTokenInfo": {"status": "Blocked"}}
        ],
    }
    held = await poll(lambda: held_list(http, admin, station.id), until=lambda held: held["list_version"] == 2)
    assert [entry for entry in held["entries"] if entry["id_tag"] == id_tag] == [
        {"id_tag": id_tag, "status": "Blocked", "expiry_date": None, "parent_id_tag": None}
    ]


async def test_an_unchanged_differential_list_leaves_out_the_empty_list(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    # 2.0.1's localAuthorizationList has at least one entry when it is there (1.6 sends an empty array).
    await send_list(http, admin, station.id, "Full")
    answer = await send_list(http, admin, station.id, "Differential")
    sent = await nth_local_list(station, 2)
    assert (answer["status"], answer["entries"]) == ("Accepted", 0)
    assert sent == {"versionNumber": 2, "updateType": "Differential"}


async def test_a_version_mismatch_falls_back_to_a_full_list(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    def mismatch_on_differential(payload: dict[str, Any]) -> Any:
        status = "VersionMismatch" if payload["update_type"] == "Differential" else "Accepted"
        return call_result.SendLocalList(status=status)

    behaviour = StationBehaviour(answers={"SendLocalList": mismatch_on_differential})
    async with booted_station(server, behaviour, evses=1) as station:
        answer = await send_list(http, admin, station.id, "Differential")
        sent = await nth_local_list(station, 2)
    assert (answer["status"], answer["update_type"], answer["list_version"]) == ("Accepted", "Full", 1)
    assert (sent["updateType"], sent["versionNumber"]) == ("Full", 1)
    assert (await held_list(http, admin, station.id))["list_version"] == 1


async def test_the_version_a_station_reports_is_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    await send_list(http, admin, station.id, "Full")
    response = await ocpp_call(http, admin, station.id, "GetLocalListVersion", {})
    assert response.status_code == 200, response.text
    assert response.json() == {"versionNumber": 1}
    assert station.calls_received("GetLocalListVersion") == [{}]
    held = await held_list(http, admin, station.id)
    assert (held["list_version"], held["reported_version"]) == (1, 1)


async def test_an_operators_own_201_send_local_list_is_recorded(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    id_tag = "OWN" + secrets.token_hex(4).upper()
    payload = {
        "versionNumber": 7,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": id_tag, "type": "ISO15693"},
                "idTokenInfo": {"status": "Blocked", "groupIdToken": {"idToken": "FLEET", "type": "Central"}},
            }
        ],
    }
    response = await ocpp_call(http, admin, station.id, "SendLocalList", payload)
    assert response.json() == {"status": "Accepted"}, response.text
    assert station.calls_received("SendLocalList") == [payload]
    held = await held_list(http, admin, station.id)
    assert held["list_version"] == 7
    assert held["entries"] == [{"id_tag": id_tag, "status": "Blocked", "expiry_date": None, "parent_id_tag": "FLEET"}]


async def test_a_16_spelling_of_send_local_list_is_refused_for_a_201_station(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation
) -> None:
    payload = {"listVersion": 1, "updateType": "Full", "localAuthorizationList": []}
    response = await ocpp_call(http, admin, station.id, "SendLocalList", payload)
    assert response.status_code == 422, response.text
    assert station.calls_received("SendLocalList") == []
