"""Operators: registering chargers, seeing their state, sending OCPP calls, reading the message log."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from csms.simulator.charger import ChargerBehaviour, connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    new_charger_id,
    signup,
)
from tests.support.waiting import poll, wait_for_true


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username))


async def test_admin_registers_a_charger_that_can_then_connect(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = new_charger_id()
    response = await http.post(
        "/api/admin/chargers",
        json={"charge_point_id": charge_point_id, "password": CHARGER_PASSWORD},
        headers=admin,
    )
    assert response.status_code == 201
    assert response.json()["charge_point_id"] == charge_point_id and "password" not in response.text
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert (await charger.heartbeat()).current_time


async def test_registering_a_charger_twice_is_409(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {"charge_point_id": new_charger_id(), "password": CHARGER_PASSWORD}
    assert (await http.post("/api/admin/chargers", json=body, headers=admin)).status_code == 201
    again = await http.post("/api/admin/chargers", json=body, headers=admin)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]


@pytest.mark.parametrize(
    ("charge_point_id", "password", "fragment"),
    [
        ("CP-ok", "too-short", "16 to 40"),
        ("CP-ok", "x" * 41, "16 to 40"),
        ("has/slash", CHARGER_PASSWORD, "charge point id"),
        ("has:colon", CHARGER_PASSWORD, "charge point id"),
    ],
)
async def test_charger_registration_rules_are_explained_with_422(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, password: str, fragment: str
) -> None:
    response = await http.post(
        "/api/admin/chargers", json={"charge_point_id": charge_point_id, "password": password}, headers=admin
    )
    assert response.status_code == 422 and fragment in response.json()["detail"]


async def test_charger_view_shows_boot_data_connection_and_connectors(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot(vendor="Acme", model="Duo", firmware_version="4.2")
        await charger.status(0, "Available")
        await charger.status(1, "Charging")
        view = (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()
        listed = (await http.get("/api/admin/chargers", headers=admin)).json()
    assert (view["vendor"], view["model"], view["firmware_version"], view["is_connected"]) == (
        "Acme",
        "Duo",
        "4.2",
        True,
    )
    assert [(c["connector_id"], c["status"]) for c in view["connectors"]] == [
        (0, "Available"),
        (1, "Charging"),
    ]
    assert charge_point_id in [c["charge_point_id"] for c in listed]


async def test_operators_find_chargers_by_text_and_state_sorted_and_a_page_at_a_time(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    vendor = f"Vend{secrets.token_hex(3)}"
    faulted, unavailable = sorted([await server.add_charger(), await server.add_charger()])

    async def find(**params: Any) -> tuple[list[str], str]:
        response = await http.get("/api/admin/chargers", params={"q": vendor.lower(), **params}, headers=admin)
        assert response.status_code == 200, response.text
        return [charger["charge_point_id"] for charger in response.json()], response.headers["X-Total-Count"]

    async with (
        connect_charger(server.ws_url, faulted, CHARGER_PASSWORD) as broken,
        connect_charger(server.ws_url, unavailable, CHARGER_PASSWORD) as closed,
    ):
        await broken.boot(vendor=vendor, model="Duo")
        await closed.boot(vendor=vendor.upper(), model="Solo")  # found in any case
        await broken.status(1, "Faulted", error_code="GroundFailure")
        await closed.status(0, "Unavailable")
        await broken.heartbeat()  # answered after the status is stored
        await closed.heartbeat()
        assert await find() == ([faulted, unavailable], "2")
        assert await find(state="faulted") == ([faulted], "1")
        assert await find(state="unavailable") == ([unavailable], "1")
        assert await find(state="online") == ([faulted, unavailable], "2")
        assert await find(state="offline") == ([], "0")
        assert await find(sort="-charge_point_id", limit=1) == ([unavailable], "2")
        assert await find(sort="-charge_point_id", limit=1, offset=1) == ([faulted], "2")
        assert sorted((await find(sort="-last_heartbeat_at"))[0]) == [faulted, unavailable]
    # Offline, a charger's last status is stale: it is offline, not faulted.
    assert await poll(lambda: find(state="offline"), until=lambda found: found[1] == "2") == (
        [faulted, unavailable],
        "2",
    )
    assert await find(state="faulted") == ([], "0")
    refused = await http.get("/api/admin/chargers", params={"state": "broken", "sort": "vendor"}, headers=admin)
    assert refused.status_code == 422 and {error["loc"][-1] for error in refused.json()["detail"]} == {"state", "sort"}


async def test_a_16_charger_is_shown_with_its_version_and_each_connector_as_an_evse_of_its_own(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    before_boot = (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(0, "Available")
        await charger.status(1, "Charging")
        await charger.status(2, "Unavailable")
        view = (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()
    assert (before_boot["ocpp_version"], view["ocpp_version"]) == (None, "1.6")
    fields = ("connector_id", "evse_id", "evse_connector_id", "availability")
    assert [tuple(c[field] for field in fields) for c in view["connectors"]] == [
        (0, 0, None, "Operative"),
        (1, 1, 1, "Operative"),
        (2, 2, 1, "Inoperative"),
    ]


async def test_unknown_charger_view_is_404(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await http.get("/api/admin/chargers/NOPE-404", headers=admin)
    assert response.status_code == 404 and response.json() == {"detail": "unknown charger NOPE-404"}


async def test_admin_sends_an_ocpp_call_and_gets_the_chargers_answer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        reset = await http.post(
            f"/api/admin/chargers/{charge_point_id}/ocpp/Reset", json={"type": "Soft"}, headers=admin
        )
        config = await http.post(
            f"/api/admin/chargers/{charge_point_id}/ocpp/GetConfiguration",
            json={"key": ["HeartbeatInterval"]},
            headers=admin,
        )
        assert [(c.action, c.payload) for c in charger.received] == [
            ("Reset", {"type": "Soft"}),
            ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
        ]
    assert (reset.status_code, reset.json()) == (200, {"status": "Accepted"})
    assert config.json() == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}


@pytest.mark.parametrize(
    ("action", "payload", "status", "fragment"),
    [
        ("Reset", {"type": "Sideways"}, 422, "invalid Reset payload"),
        ("Reset", {}, 422, "invalid Reset payload"),
        ("Heartbeat", {}, 404, "not an OCPP 1.6 call the central system sends"),
        ("Teleport", {}, 404, "not an OCPP 1.6 call"),
    ],
)
async def test_invalid_ocpp_calls_are_refused_before_they_leave(
    server: RunningServer,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    action: str,
    payload: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        response = await http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/{action}", json=payload, headers=admin)
        assert charger.received == []
    assert response.status_code == status and fragment in response.json()["detail"]


async def test_ocpp_call_to_an_offline_charger_is_409(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    response = await http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/ClearCache", json={}, headers=admin)
    assert response.status_code == 409


async def test_call_error_from_the_charger_is_502_with_its_code(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    from ocpp.exceptions import NotImplementedError as OcppNotImplemented

    def refuse(_payload: dict[str, Any]) -> Any:
        raise OcppNotImplemented(description="no resets today")

    charge_point_id = await server.add_charger()
    behaviour = ChargerBehaviour(answers={"Reset": refuse})
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour):
        response = await http.post(
            f"/api/admin/chargers/{charge_point_id}/ocpp/Reset", json={"type": "Hard"}, headers=admin
        )
    assert response.status_code == 502 and "NotImplemented" in response.json()["detail"]


async def test_message_log_keeps_every_frame_in_and_out_in_order(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger._connection.send("not json")

        async def bad_frame_answered() -> bool:
            await server.flush_message_log()
            log = (await http.get(f"/api/admin/chargers/{charge_point_id}/messages", headers=admin)).json()
            return any(m["message_type"] == 4 for m in log)

        await wait_for_true(bad_frame_answered)  # the CallError is out before csms calls the charger
        await http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/ClearCache", json={}, headers=admin)
    await server.flush_message_log()
    log = (await http.get(f"/api/admin/chargers/{charge_point_id}/messages", headers=admin)).json()
    oldest_first = [(m["direction"], m["message_type"], m["action"]) for m in reversed(log)]
    assert oldest_first == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
        ("in", None, None),
        ("out", 4, None),
        ("out", 2, "ClearCache"),
        ("in", 3, "ClearCache"),
    ]
    assert log[-1]["frame"].startswith('[2,"') and "BootNotification" in log[-1]["frame"]
    page = (
        await http.get(
            f"/api/admin/chargers/{charge_point_id}/messages?limit=2&before_id={log[1]['id']}", headers=admin
        )
    ).json()
    assert [m["id"] for m in page] == [log[2]["id"], log[3]["id"]]


async def test_message_log_filters_by_action_and_direction_and_pages_within_them(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        for _ in range(3):
            await charger.heartbeat()
        await http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/ClearCache", json={}, headers=admin)
    await server.flush_message_log()
    messages = f"/api/admin/chargers/{charge_point_id}/messages"

    heartbeats = (await http.get(messages, params={"action": "Heartbeat"}, headers=admin)).json()
    assert [(m["direction"], m["message_type"]) for m in heartbeats] == [("out", 3), ("in", 2)] * 3
    sent = (await http.get(messages, params={"direction": "out", "action": "ClearCache"}, headers=admin)).json()
    assert [(m["direction"], m["message_type"], m["action"]) for m in sent] == [("out", 2, "ClearCache")]
    incoming = (await http.get(messages, params={"direction": "in"}, headers=admin)).json()
    assert {m["direction"] for m in incoming} == {"in"} and len(incoming) == 5
    older = {"action": "Heartbeat", "limit": 2, "before_id": heartbeats[1]["id"]}
    page = (await http.get(messages, params=older, headers=admin)).json()
    assert [m["id"] for m in page] == [heartbeats[2]["id"], heartbeats[3]["id"]]


async def test_message_log_refuses_an_unknown_direction_with_422(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    response = await http.get(f"/api/admin/chargers/{charge_point_id}/messages?direction=sideways", headers=admin)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/chargers"),
        ("POST", "/api/admin/chargers"),
        ("GET", "/api/admin/chargers/CP1"),
        ("GET", "/api/admin/chargers/CP1/messages"),
        ("POST", "/api/admin/chargers/CP1/ocpp/Reset"),
        ("GET", "/api/admin/transactions"),
    ],
)
async def test_admin_endpoints_refuse_plain_users_with_403_and_strangers_with_401(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    user = bearer(await signup(http))
    as_user = await http.request(method, path, headers=user, json={})
    anonymous = await http.request(method, path, json={})
    assert as_user.status_code == 403 and "admin" in as_user.json()["detail"]
    assert anonymous.status_code == 401


def new_serial() -> str:
    return f"SN-{new_charger_id()}"


async def test_an_operator_registers_a_charger_s_serial_number_apart_from_what_it_boots_with(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id, serial = new_charger_id(), new_serial()
    body = {"charge_point_id": charge_point_id, "password": CHARGER_PASSWORD, "registered_serial_number": serial}
    created = await http.post("/api/admin/chargers", json=body, headers=admin)
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot(charge_point_serial_number="SOMEONE-ELSES")
    shown = (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()
    assert created.status_code == 201 and created.json()["registered_serial_number"] == serial
    assert (shown["registered_serial_number"], shown["serial_number"]) == (serial, "SOMEONE-ELSES")


async def test_a_serial_number_registered_for_another_charger_is_409_on_create_and_on_change(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first, second, serial = new_charger_id(), new_charger_id(), new_serial()
    for charge_point_id, registered in ((first, serial), (second, None)):
        body = {
            "charge_point_id": charge_point_id,
            "password": CHARGER_PASSWORD,
            "registered_serial_number": registered,
        }
        assert (await http.post("/api/admin/chargers", json=body, headers=admin)).status_code == 201
    third = {"charge_point_id": new_charger_id(), "password": CHARGER_PASSWORD, "registered_serial_number": serial}
    created = await http.post("/api/admin/chargers", json=third, headers=admin)
    changed = await http.patch(
        f"/api/admin/chargers/{second}", json={"registered_serial_number": serial}, headers=admin
    )
    kept = await http.patch(f"/api/admin/chargers/{first}", json={"registered_serial_number": serial}, headers=admin)
    expected = f"serial number {serial!r} is registered for charger {first}"
    assert (created.status_code, created.json()["detail"]) == (409, expected)
    assert (changed.status_code, changed.json()["detail"]) == (409, expected)
    assert (kept.status_code, kept.json()["registered_serial_number"]) == (200, serial)
    assert (await http.get(f"/api/admin/chargers/{third['charge_point_id']}", headers=admin)).status_code == 404


async def test_changing_a_charger_s_serial_number_is_audited_and_null_forgets_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    path = f"/api/admin/chargers/{charge_point_id}"
    registered = await http.patch(path, json={"registered_serial_number": new_serial()}, headers=admin)
    forgotten = await http.patch(path, json={"registered_serial_number": None}, headers=admin)

    async def audited() -> list[tuple[str, int]]:
        # The audit row is recorded once the answer has gone out: it may come a moment after it.
        await server.app_runtime.writer.flush()
        audit = (await http.get("/api/admin/audit_log", headers=admin)).json()
        return [(entry["method"], entry["status_code"]) for entry in audit if entry["path"] == path]

    assert registered.status_code == 200 and forgotten.json()["registered_serial_number"] is None
    assert await poll(audited, until=lambda rows: len(rows) >= 2) == [("PATCH", 200), ("PATCH", 200)]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"registered_serial_number": ""},
        {"registered_serial_number": " SN-1"},
        {"registered_serial_number": "x" * 65},
    ],
    ids=["nothing", "empty", "padded", "too-long"],
)
async def test_a_bad_serial_number_change_is_422(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    charge_point_id = await server.add_charger()
    response = await http.patch(f"/api/admin/chargers/{charge_point_id}", json=body, headers=admin)
    assert response.status_code == 422, response.text
