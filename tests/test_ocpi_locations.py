"""OCPI 2.2.1 locations with csms as the SENDER, against an eMSP peer of its own (tests/support/ocpi_peer.py) and
simulated chargers: the peer pulls the locations page by page, one Location, EVSE or Connector, and gets every
change pushed (an EVSE's status as a PATCH within seconds, an operator's edit as a PUT), also after being away.
The peer checks every object by the spec's field rules and fails the test on any rule broken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    RunningServer,
    node_with,
    settings_for,
    start_server,
    stop_server,
)
from tests.operating import booted_station, online_charger
from tests.support import ocpi_objects
from tests.support.ocpi_peer import EmspPeer
from tests.support.ocpi_setup import OWN, StartPeer, admin_client, database, peers, register
from tests.support.waiting import poll

__all__ = ["database", "peers"]  # fixtures of tests/support/ocpi_setup.py

PLACE = {
    "name": "Depot North",
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "postal_code": "1012 AB",
    "country": "NLD",
    "latitude": 52.3789,
    "longitude": 4.9003,
    "time_zone": "Europe/Amsterdam",
    "opening_times": {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "22:00"}],
    },
    "facilities": ["CAFE", "WIFI"],
    "parking_type": "PARKING_LOT",
}


@pytest.fixture(scope="module")
async def server(database: str) -> AsyncIterator[RunningServer]:
    # It looks for tariff assignments starting or ending every half second (CSMS default: a minute).
    handle, task, running = await start_server(settings_for(database, **OWN, ocpi_tariff_window_check_interval=0.5))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def admin(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server) as client:
        yield client


@pytest.fixture
async def emsp(admin: httpx.AsyncClient, peers: StartPeer) -> tuple[EmspPeer, dict[str, str]]:
    """A registered eMSP peer and csms's endpoints."""
    peer = await peers()
    return peer, await register(admin, peer)


async def _location(admin: httpx.AsyncClient, charge_point_ids: list[str], **fields: Any) -> dict[str, Any]:
    response = await admin.post(
        "/api/admin/ocpi/locations", json={**PLACE, **fields, "charge_point_ids": charge_point_ids}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _evse_of(peer: EmspPeer, location_id: int, uid: str) -> dict[str, Any] | None:
    location = peer.locations.get(str(location_id), {})
    return next((evse for evse in location.get("evses", []) if evse.get("uid") == uid), None)


async def _status_at_peer(peer: EmspPeer, location_id: int, uid: str, status: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any] | None:
        return _evse_of(peer, location_id, uid)

    evse = await poll(fetch, until=lambda evse: evse is not None and evse["status"] == status, within=10)
    assert evse is not None
    return evse


# -- pulling -----------------------------------------------------------------------------------------------------


async def test_an_emsp_pulls_every_location_page_by_page_with_link_and_total_count(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    async with online_charger(server, connectors=2) as charger:
        created = [await _location(admin, [charger.id])]
        for _ in range(2):
            offline = await server.add_charger()
            await admin.put(
                f"/api/admin/ocpi/connectors/{offline}/1",
                json={"standard": "IEC_62196_T2_COMBO", "power_type": "DC", "max_voltage": 920, "max_amperage": 200},
            )
            created.append(await _location(admin, [offline], publish=False))
        await _location(admin, [], name="No chargers yet")  # no EVSEs: not in the list (§8.3.1)

        items, pages = await peer.crawl(endpoints["locations"], limit=1)
        wide, wide_pages = await peer.crawl(endpoints["locations"], limit=50)

    totals = {int(page.headers["x-total-count"]) for page in pages}
    assert totals == {len(items)} and len(pages) == len(items)
    assert [page.headers["x-limit"] for page in pages] == ["1"] * len(items)
    assert "link" not in pages[-1].headers and all('rel="next"' in page.headers["link"] for page in pages[:-1])
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and {str(location["id"]) for location in created} <= set(ids)
    assert "No chargers yet" not in {item.get("name") for item in items}
    assert {page.headers["x-limit"] for page in wide_pages} == {"2"}  # csms's ceiling, whatever was asked
    assert sorted(item["id"] for item in wide) == sorted(ids)
    for item in items:
        assert ocpi_objects.check_location(item, "GET locations") == []
    first = next(item for item in items if item["id"] == str(created[0]["id"]))
    assert [evse["status"] for evse in first["evses"]] == ["AVAILABLE", "AVAILABLE"]
    assert [evse["evse_id"] for evse in first["evses"]] == [f"NL*CSM*E{_outlet(charger.id)}*{n}" for n in (1, 2)]
    assert first["opening_times"] == PLACE["opening_times"] and first["facilities"] == ["CAFE", "WIFI"]
    assert first["coordinates"] == {"latitude": "52.378900", "longitude": "4.900300"}
    connector = first["evses"][0]["connectors"][0]
    assert (connector["standard"], connector["format"], connector["power_type"]) == (
        "IEC_62196_T2",
        "SOCKET",
        "AC_3_PHASE",
    )
    assert (connector["max_voltage"], connector["max_amperage"], connector["max_electric_power"]) == (230, 32, 22080)
    dc = next(item for item in items if item["id"] == str(created[1]["id"]))
    assert dc["publish"] is False and dc["evses"][0]["status"] == "UNKNOWN"  # never connected
    assert dc["evses"][0]["connectors"][0]["max_electric_power"] == 920 * 200


def _outlet(charge_point_id: str) -> str:
    return "".join(c for c in charge_point_id if c.isalnum()).upper()


async def test_a_location_evse_and_connector_are_pulled_one_by_one_and_unknown_ones_get_2003(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    base = endpoints["locations"]
    async with booted_station(server, evses=2) as station:
        location = await _location(admin, [station.id])
        uid = location["evses"][1]["evse_uid"]
        assert uid == f"{station.id}-2"
        answers = {
            "location": await peer.call_csms("GET", f"{base}/{location['id']}", token=peer.csms_token),
            "evse": await peer.call_csms("GET", f"{base}/{location['id']}/{uid}", token=peer.csms_token),
            "connector": await peer.call_csms("GET", f"{base}/{location['id']}/{uid}/1", token=peer.csms_token),
        }
        unknown = [
            await peer.call_csms("GET", f"{base}/{path}", token=peer.csms_token)
            for path in ("999999", "not-a-number", f"{location['id']}/nope", f"{location['id']}/{uid}/7")
        ]
        without_token = await peer.call_csms("GET", f"{base}/{location['id']}", token=None)

    data = {name: answer.json()["data"] for name, answer in answers.items()}
    assert ocpi_objects.check_location(data["location"], "GET location") == []
    assert ocpi_objects.check_evse(data["evse"], "GET evse") == []
    assert ocpi_objects.check_connector(data["connector"], "GET connector") == []
    assert data["evse"]["uid"] == uid and data["evse"]["status"] == "AVAILABLE"
    assert data["connector"]["id"] == "1"
    assert [(answer.status_code, answer.json()["status_code"]) for answer in unknown] == [(404, 2003)] * 4
    assert (without_token.status_code, without_token.json()["status_code"]) == (401, 2000)


# -- pushing -----------------------------------------------------------------------------------------------------


async def test_a_charger_status_change_reaches_the_emsp_as_a_patch_within_seconds(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    async with online_charger(server, connectors=2) as charger:
        location = await _location(admin, [charger.id])
        uid = f"{charger.id}-2"
        await _status_at_peer(peer, location["id"], uid, "AVAILABLE")  # the location's PUT
        for ocpp, ocpi in (("Preparing", "AVAILABLE"), ("Charging", "CHARGING"), ("SuspendedEV", "CHARGING")):
            await charger.status(2, ocpp)
            await _status_at_peer(peer, location["id"], uid, ocpi)
        await charger.status(2, "Faulted", error_code="GroundFailure")
        await _status_at_peer(peer, location["id"], uid, "OUTOFORDER")
        await charger.status(2, "Unavailable")
        await _status_at_peer(peer, location["id"], uid, "INOPERATIVE")
    await _status_at_peer(peer, location["id"], uid, "UNKNOWN")  # the charger went offline
    await _status_at_peer(peer, location["id"], f"{charger.id}-1", "UNKNOWN")

    patches = [seen for seen in peer.pushes if seen.method == "PATCH" and seen.path.endswith(f"/{uid}")]
    assert patches[0].path == f"/emsp/2.2.1/locations/NL/CSM/{location['id']}/{uid}"
    assert set(patches[0].body) == {"status", "last_updated"}
    listed = (await admin.get(f"/api/admin/ocpi/locations/{location['id']}")).json()
    assert listed["last_updated"] >= location["last_updated"]


async def test_a_station_evse_status_reaches_the_emsp(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    async with booted_station(server, evses=1) as station:
        location = await _location(admin, [station.id])
        await station.status(1, "Occupied")
        await _status_at_peer(peer, location["id"], f"{station.id}-1", "CHARGING")
        await station.status(1, "Reserved")
        await _status_at_peer(peer, location["id"], f"{station.id}-1", "RESERVED")


async def test_an_operators_edit_is_put_and_a_deleted_location_is_put_with_its_evses_removed(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    async with online_charger(server) as charger:
        location = await _location(admin, [charger.id])
        key = str(location["id"])
        await poll(lambda: _async(peer.locations.get(key)), until=lambda pushed: pushed is not None)

        edited = await admin.patch(
            f"/api/admin/ocpi/locations/{key}", json={"name": "Depot South", "opening_times": {"twentyfourseven": True}}
        )
        assert edited.status_code == 200, edited.text
        pushed = await poll(
            lambda: _async(peer.locations.get(key)), until=lambda pushed: pushed.get("name") == "Depot South"
        )
        assert pushed["opening_times"] == {"twentyfourseven": True} and pushed["address"] == PLACE["address"]

        details = {
            "standard": "IEC_62196_T2",
            "format": "CABLE",
            "power_type": "AC_1_PHASE",
            "max_voltage": 230,
            "max_amperage": 16,
        }
        assert (await admin.put(f"/api/admin/ocpi/connectors/{charger.id}/1", json=details)).status_code == 200
        pushed = await poll(
            lambda: _async(peer.locations.get(key)),
            until=lambda pushed: pushed["evses"][0]["connectors"][0]["format"] == "CABLE",
        )
        assert pushed["evses"][0]["connectors"][0]["max_electric_power"] == 230 * 16

        assert (await admin.delete(f"/api/admin/ocpi/locations/{key}")).status_code == 204
        gone = await poll(lambda: _async(peer.locations.get(key)), until=lambda pushed: pushed["publish"] is False)
    assert [evse["status"] for evse in gone["evses"]] == ["REMOVED"]
    assert (await admin.get(f"/api/admin/ocpi/locations/{key}")).status_code == 404
    puts = [seen.path for seen in peer.pushes if seen.method == "PUT"]
    assert set(puts) == {f"/emsp/2.2.1/locations/NL/CSM/{key}"} and len(puts) >= 4


async def test_a_push_the_emsp_missed_while_away_arrives_when_it_is_back(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    async with online_charger(server) as charger:
        location = await _location(admin, [charger.id])
        uid = f"{charger.id}-1"
        await _status_at_peer(peer, location["id"], uid, "AVAILABLE")
        peer.away = True
        await charger.status(1, "Charging")
        await poll(lambda: _async(_attempts(peer, uid)), until=lambda attempts: attempts >= 2)  # retried
        peer.away = False
        await _status_at_peer(peer, location["id"], uid, "CHARGING")


async def test_a_push_queued_when_csms_stops_is_sent_after_its_restart(tmp_path: Path, peers: StartPeer) -> None:
    peer = await peers()
    async with node_with(tmp_path, **OWN) as node, admin_client(node) as admin:
        await register(admin, peer)
        async with online_charger(node) as charger:
            location = await _location(admin, [charger.id])
            await _status_at_peer(peer, location["id"], f"{charger.id}-1", "AVAILABLE")
            peer.away = True
            await charger.status(1, "Charging")
            await poll(lambda: _async(_attempts(peer, f"{charger.id}-1")), until=lambda attempts: attempts >= 1)
    missed = _evse_of(peer, location["id"], f"{charger.id}-1")
    peer.away = False
    async with node_with(tmp_path, **OWN):
        # The latest of what it missed: the charger went offline after Charging (that push superseded).
        await _status_at_peer(peer, location["id"], f"{charger.id}-1", "UNKNOWN")
    assert missed is not None and missed["status"] == "AVAILABLE"


async def test_a_push_in_flight_when_csms_stops_is_sent_at_once_after_its_restart(
    tmp_path: Path, peers: StartPeer
) -> None:
    # Each push is claimed for the request's timeout and a margin (90 s here), so that a node that dies
    # mid-request does not have it sent twice at once; a node that stops gives its claim back.
    settings = {**OWN, "ocpi_request_timeout": 60}
    peer = await peers()
    async with node_with(tmp_path, **settings) as node, admin_client(node) as admin:
        await register(admin, peer)
        peer.answering.clear()  # the peer takes the location's PUT and never answers it
        since = len(peer.seen)
        location = await _location(admin, [])
        await poll(lambda: _async(len(peer.seen)), until=lambda seen: seen > since)
    peer.answering.set()
    assert str(location["id"]) not in peer.locations
    async with node_with(tmp_path, **settings):
        got = await poll(lambda: _async(peer.locations.get(str(location["id"]))), until=lambda got: got is not None)
    assert got is not None and got["name"] == PLACE["name"]


async def test_a_charger_is_on_one_location_at_most_and_locations_follow_ocpi_rules(
    server: RunningServer, admin: httpx.AsyncClient
) -> None:
    charger = await server.add_charger()
    await _location(admin, [charger])
    taken = await admin.post("/api/admin/ocpi/locations", json={**PLACE, "charge_point_ids": [charger]})
    refusals = [
        await admin.post("/api/admin/ocpi/locations", json={**PLACE, **change})
        for change in (
            {"country": "NL"},
            {"time_zone": "Mars/Olympus"},
            {"facilities": ["CASINO"]},
            {"opening_times": {"twentyfourseven": False}},
            {"charge_point_ids": ["CP-nobody"]},
        )
    ]
    bad_plug = await admin.put(f"/api/admin/ocpi/connectors/{charger}/1", json={"standard": "SCHUKO"})
    bad_tariff = await admin.put(f"/api/admin/ocpi/connectors/{charger}/1", json={"tariff_ids": ["999999"]})
    assert taken.status_code == 409
    assert [refusal.status_code for refusal in refusals] == [422] * 5
    assert (bad_plug.status_code, bad_tariff.status_code) == (422, 404)


async def test_connectors_name_the_tariff_in_force_there_unless_the_operator_names_others(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, endpoints = emsp
    charger = await server.add_charger()
    tariff = (
        await admin.post("/api/admin/tariffs", json={"name": "AC", "currency": "EUR", "price_per_kwh": "0.39"})
    ).json()
    other = (await admin.post("/api/admin/tariffs", json={"name": "Fleet", "currency": "EUR"})).json()
    await admin.post("/api/admin/tariff_assignments", json={"tariff_id": tariff["id"], "charge_point_id": charger})
    await admin.put(f"/api/admin/ocpi/connectors/{charger}/1", json={})
    await admin.put(f"/api/admin/ocpi/connectors/{charger}/2", json={"tariff_ids": [str(other["id"])]})
    location = await _location(admin, [charger])

    pulled = (await peer.call_csms("GET", f"{endpoints['locations']}/{location['id']}", token=peer.csms_token)).json()
    tariff_ids = [evse["connectors"][0]["tariff_ids"] for evse in pulled["data"]["evses"]]
    assert tariff_ids == [[str(tariff["id"])], [str(other["id"])]]


async def test_a_tariff_assigned_or_removed_at_a_location_reaches_the_emsp_in_its_put(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    tariff = (
        await admin.post("/api/admin/tariffs", json={"name": "AC", "currency": "EUR", "price_per_kwh": "0.45"})
    ).json()
    fleet = (await admin.post("/api/admin/tariffs", json={"name": "Fleet", "currency": "EUR"})).json()
    async with online_charger(server) as charger, online_charger(server) as own_tariffs:
        await admin.put(f"/api/admin/ocpi/connectors/{own_tariffs.id}/1", json={"tariff_ids": [str(fleet["id"])]})
        location, untouched = await _location(admin, [charger.id]), await _location(admin, [own_tariffs.id])
        key, other_key = str(location["id"]), str(untouched["id"])
        first = await poll(lambda: _async(peer.locations.get(key)), until=lambda pushed: pushed is not None)
        await poll(lambda: _async(peer.locations.get(other_key)), until=lambda pushed: pushed is not None)
        assert "tariff_ids" not in first["evses"][0]["connectors"][0]  # none in force: left out
        puts_of_untouched = sum(1 for seen in peer.pushes if seen.path.endswith(f"/{other_key}"))

        await asyncio.sleep(1.1)  # OCPI timestamps are in whole seconds: the next last_updated is a later one
        # A connector that names its own tariffs does not change: its location is not pushed again.
        assignment = {"tariff_id": tariff["id"], "charge_point_id": own_tariffs.id}
        assert (await admin.post("/api/admin/tariff_assignments", json=assignment)).status_code == 201
        assignment = {"tariff_id": tariff["id"], "charge_point_id": charger.id}
        assigned = await admin.post("/api/admin/tariff_assignments", json=assignment)
        assert assigned.status_code == 201
        pushed = await poll(
            lambda: _async(peer.locations.get(key)),
            until=lambda pushed: pushed["evses"][0]["connectors"][0].get("tariff_ids") == [str(tariff["id"])],
        )
        assert pushed["last_updated"] > first["last_updated"]  # so an eMSP pulling by date_from finds it
        assert sum(1 for seen in peer.pushes if seen.path.endswith(f"/{other_key}")) == puts_of_untouched

        assert (await admin.delete(f"/api/admin/tariff_assignments/{assigned.json()['id']}")).status_code == 204
        await poll(
            lambda: _async(peer.locations.get(key)),
            until=lambda pushed: "tariff_ids" not in pushed["evses"][0]["connectors"][0],
        )


async def test_an_assignment_dated_to_start_later_reaches_the_emsp_once_it_starts(
    server: RunningServer, admin: httpx.AsyncClient, emsp: tuple[EmspPeer, dict[str, str]]
) -> None:
    peer, _ = emsp
    tariff = (await admin.post("/api/admin/tariffs", json={"name": "Night", "currency": "EUR"})).json()
    async with online_charger(server) as charger:
        key = str((await _location(admin, [charger.id]))["id"])
        await poll(lambda: _async(peer.locations.get(key)), until=lambda pushed: pushed is not None)
        starts = datetime.now(UTC) + timedelta(seconds=2)
        assignment = {"tariff_id": tariff["id"], "charge_point_id": charger.id, "valid_from": starts.isoformat()}
        assert (await admin.post("/api/admin/tariff_assignments", json=assignment)).status_code == 201
        assert "tariff_ids" not in peer.locations[key]["evses"][0]["connectors"][0]  # not in force yet
        pushed = await poll(
            lambda: _async(peer.locations.get(key)),
            until=lambda pushed: pushed["evses"][0]["connectors"][0].get("tariff_ids") == [str(tariff["id"])],
        )
    assert datetime.now(UTC) >= starts
    assert pushed["last_updated"] >= starts.isoformat(timespec="seconds").replace("+00:00", "Z")[:19]


async def _async(value: Any) -> Any:
    return value


def _attempts(peer: EmspPeer, uid: str) -> int:
    return sum(1 for seen in peer.seen if seen.method == "PATCH" and seen.path.endswith(f"/{uid}"))
