"""idTags (the app's own and RFID cards) and vehicles, as users, operators and chargers see them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    signup,
)


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


def card() -> str:
    return "RFID" + datetime.now(UTC).strftime("%H%M%S%f")


async def authorize(server: RunningServer, id_tag: str) -> dict[str, Any]:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        info: dict[str, Any] = (await charger.authorize(id_tag)).id_tag_info
    return info


async def test_user_registers_an_rfid_card_that_chargers_then_accept(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    user = bearer(await signup(http))
    tag = card()
    response = await http.post("/api/me/id_tags", json={"id_tag": tag, "label": "key fob"}, headers=user)
    assert response.status_code == 201 and response.json()["label"] == "key fob"
    assert tag in [t["id_tag"] for t in (await http.get("/api/me", headers=user)).json()["id_tags"]]
    assert (await authorize(server, tag))["status"] == "Accepted"


async def test_a_user_cannot_bind_a_tag_that_belongs_to_someone_else(http: httpx.AsyncClient) -> None:
    alice = await signup(http)
    bob = bearer(await signup(http))
    taken = await http.post("/api/me/id_tags", json={"id_tag": alice["idTag"]}, headers=bob)
    assert taken.status_code == 409 and "already registered" in taken.json()["detail"]
    tag = card()
    assert (await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=bearer(alice))).status_code == 201
    assert (await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=bob)).status_code == 409


async def test_a_user_cannot_claim_a_group_id_in_any_case_but_admins_still_make_groups(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    group = "FLEET" + card()[-8:]
    member = {"id_tag": card(), "parent_id_tag": group}
    assert (await http.post("/api/admin/id_tags", json=member, headers=admin)).status_code == 201
    user = bearer(await signup(http))
    claims = [
        await http.post("/api/me/id_tags", json={"id_tag": value}, headers=user) for value in (group, group.lower())
    ]
    assert [claim.status_code for claim in claims] == [409, 409]
    assert "in use" in claims[0].json()["detail"]
    second_member = {"id_tag": card() + "B", "parent_id_tag": group}
    assert (await http.post("/api/admin/id_tags", json=second_member, headers=admin)).status_code == 201


async def test_a_user_cannot_claim_a_tag_in_another_case(http: httpx.AsyncClient) -> None:
    alice = await signup(http)
    bob = bearer(await signup(http))
    taken = await http.post("/api/me/id_tags", json={"id_tag": alice["idTag"].lower()}, headers=bob)
    assert taken.status_code == 409


async def test_a_user_cannot_claim_a_value_an_operator_holds_a_connector_for(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    held_for = "HOLD" + card()[-10:]
    expiry = (datetime.now(UTC) + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    payload = {
        "connectorId": 1,
        "expiryDate": expiry,
        "idTag": held_for,
        "reservationId": 700000 + secrets.randbelow(99999),
    }
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        reserved = await http.post(
            f"/api/admin/chargers/{charge_point_id}/ocpp/ReserveNow", json=payload, headers=admin
        )
    assert reserved.status_code == 200 and reserved.json()["status"] == "Accepted"
    claim = await http.post("/api/me/id_tags", json={"id_tag": held_for}, headers=bearer(await signup(http)))
    assert claim.status_code == 409


async def test_id_tag_longer_than_ciString20_is_422(http: httpx.AsyncClient) -> None:
    user = bearer(await signup(http))
    response = await http.post("/api/me/id_tags", json={"id_tag": "X" * 21}, headers=user)
    assert response.status_code == 422 and "1 to 20" in response.json()["detail"]


async def test_the_apps_own_tag_cannot_be_removed_but_a_card_can(http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    user = bearer(tokens)
    tag = card()
    await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=user)
    assert (await http.delete(f"/api/me/id_tags/{tokens['idTag']}", headers=user)).status_code == 409
    assert (await http.delete(f"/api/me/id_tags/{tag}", headers=user)).status_code == 204
    assert [t["id_tag"] for t in (await http.get("/api/me/id_tags", headers=user)).json()] == [tokens["idTag"]]


async def test_a_card_reported_lost_is_refused_at_chargers_and_nobody_can_take_it_over(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    owner, finder = bearer(tokens), bearer(await signup(http))
    tag = card()
    await http.post("/api/me/id_tags", json={"id_tag": tag, "label": "work card"}, headers=owner)
    assert (await authorize(server, tag))["status"] == "Accepted"
    lost = await http.post(f"/api/me/id_tags/{tag}/lost", headers=owner)
    again = await http.post(f"/api/me/id_tags/{tag}/lost", headers=owner)
    assert (lost.status_code, lost.json()["status"], lost.json()["label"]) == (200, "Blocked", "work card")
    assert (again.status_code, again.json()["status"]) == (200, "Blocked")
    assert (await authorize(server, tag))["status"] == "Blocked"
    # Removed, the card could be registered again as new and accepted: it stays, blocked, until an operator acts.
    removed = await http.delete(f"/api/me/id_tags/{tag}", headers=owner)
    assert removed.status_code == 409 and "blocked" in removed.json()["detail"]
    assert (await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=finder)).status_code == 409
    assert (await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=owner)).status_code == 409
    assert (await http.post(f"/api/me/id_tags/{tag}/lost", headers=finder)).status_code == 404
    own = await http.post(f"/api/me/id_tags/{tokens['idTag']}/lost", headers=owner)
    assert own.status_code == 409 and "log out" in own.json()["detail"]
    assert (await authorize(server, tokens["idTag"]))["status"] == "Accepted"
    # The operator unblocks it once it is found.
    unblocked = await http.patch(f"/api/admin/id_tags/{tag}", json={"status": "Accepted"}, headers=admin)
    assert unblocked.status_code == 200
    assert (await authorize(server, tag))["status"] == "Accepted"


async def test_an_operator_finds_cards_by_part_of_the_tag_label_or_owner_and_by_status(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    owner_name = f"fleet-{secrets.token_hex(3)}"
    owner = bearer(await signup(http, owner_name))
    marker = secrets.token_hex(3).upper()
    tags = [f"X{marker}A", f"X{marker}B"]
    await http.post("/api/me/id_tags", json={"id_tag": tags[0], "label": f"Van {marker}"}, headers=owner)
    await http.post("/api/admin/id_tags", json={"id_tag": tags[1], "status": "Blocked"}, headers=admin)

    async def found(**query: str) -> tuple[list[tuple[str, str | None]], str]:
        response = await http.get("/api/admin/id_tags", params=query, headers=admin)
        assert response.status_code == 200, response.text
        return [(row["id_tag"], row["username"]) for row in response.json()], response.headers["X-Total-Count"]

    assert await found(q=marker.lower()) == ([(tags[0], owner_name), (tags[1], None)], "2")
    assert await found(q=f"van {marker}") == ([(tags[0], owner_name)], "1")
    assert (await found(q=owner_name.upper()))[0][1:] == [(tags[0], owner_name)]  # after the app's own tag
    assert await found(q=marker, status="Blocked") == ([(tags[1], None)], "1")
    assert await found(q=marker, limit="1", offset="1") == ([(tags[1], None)], "2")
    unknown = await http.get("/api/admin/id_tags", params={"status": "Lost"}, headers=admin)
    assert unknown.status_code == 422 and "Accepted" in unknown.json()["detail"]


async def test_an_operator_removes_a_lost_card_which_may_then_be_registered_again(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    owner = bearer(tokens)
    tag = card()
    await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=owner)
    await http.post(f"/api/me/id_tags/{tag}/lost", headers=owner)
    assert (await http.delete(f"/api/admin/id_tags/{tag}", headers=admin)).status_code == 204
    assert (await authorize(server, tag))["status"] == "Invalid"
    again = await http.delete(f"/api/admin/id_tags/{tag}", headers=admin)
    assert again.status_code == 404
    app_tag = await http.delete(f"/api/admin/id_tags/{tokens['idTag']}", headers=admin)
    assert app_tag.status_code == 409 and "block the account" in app_tag.json()["detail"]
    assert (
        await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=bearer(await signup(http)))
    ).status_code == 201


async def test_a_card_an_operator_blocked_cannot_be_removed_and_registered_again_to_unblock_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    owner = bearer(await signup(http))
    tag = card()
    await http.post("/api/me/id_tags", json={"id_tag": tag}, headers=owner)
    assert (await http.patch(f"/api/admin/id_tags/{tag}", json={"status": "Blocked"}, headers=admin)).status_code == 200
    assert (await http.delete(f"/api/me/id_tags/{tag}", headers=owner)).status_code == 409
    assert (await authorize(server, tag))["status"] == "Blocked"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "Blocked"}, "Blocked"),
        ({"status": "Expired"}, "Expired"),
        ({"status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"}, "Expired"),
        ({"status": "Accepted", "expiry_date": None}, "Accepted"),
    ],
)
async def test_admin_tag_changes_decide_what_authorize_answers(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], changes: dict[str, Any], expected: str
) -> None:
    tag = card()
    created = await http.post("/api/admin/id_tags", json={"id_tag": tag, "status": "Blocked"}, headers=admin)
    assert created.status_code == 201
    updated = await http.patch(f"/api/admin/id_tags/{tag}", json=changes, headers=admin)
    assert updated.status_code == 200
    assert (await authorize(server, tag))["status"] == expected


async def test_tag_with_future_expiry_is_accepted_with_its_expiry_and_parent(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = card()
    expiry = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    body = {"id_tag": tag, "expiry_date": expiry.isoformat(), "parent_id_tag": "FAMILY-7"}
    assert (await http.post("/api/admin/id_tags", json=body, headers=admin)).status_code == 201
    info = await authorize(server, tag)
    assert info["status"] == "Accepted" and info["parent_id_tag"] == "FAMILY-7"
    assert datetime.fromisoformat(info["expiry_date"]) == expiry


async def test_blocking_a_user_blocks_their_tags_and_ends_their_tokens(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    me = (await http.get("/api/me", headers=bearer(tokens))).json()
    blocked = await http.patch(f"/api/admin/users/{me['id']}", json={"is_active": False}, headers=admin)
    assert blocked.status_code == 200 and blocked.json()["is_active"] is False
    assert (await authorize(server, tokens["idTag"]))["status"] == "Blocked"
    assert (await http.get("/api/me", headers=bearer(tokens))).status_code == 401
    assert (await http.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    await http.patch(f"/api/admin/users/{me['id']}", json={"is_active": True}, headers=admin)
    assert (await authorize(server, tokens["idTag"]))["status"] == "Accepted"


async def test_vehicles_belong_to_their_owner_and_show_on_the_transactions_they_charge(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    user = bearer(tokens)
    created = await http.post(
        "/api/me/vehicles",
        json={
            "name": "Family car",
            "make": "Renault",
            "model": "Zoe",
            "plate": "AB-123-CD",
            "battery_capacity_kwh": "52",
        },
        headers=user,
    )
    assert created.status_code == 201
    vehicle = created.json()
    assert vehicle["battery_capacity_kwh"] == "52.00"
    bound = await http.patch(f"/api/me/id_tags/{tokens['idTag']}", json={"vehicle_id": vehicle["id"]}, headers=user)
    assert bound.json()["vehicle_id"] == vehicle["id"]
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, tokens["idTag"])
    record = (await http.get(f"/api/transactions/{started.transaction_id}", headers=user)).json()
    assert record["vehicle_id"] == vehicle["id"]
    assert [v["id"] for v in (await http.get("/api/me", headers=user)).json()["vehicles"]] == [vehicle["id"]]


async def test_vehicle_input_rules_are_422(http: httpx.AsyncClient) -> None:
    user = bearer(await signup(http))
    for body in ({"name": ""}, {"name": "x", "battery_capacity_kwh": -5}, {"name": "x", "plate": "P" * 17}):
        assert (await http.post("/api/me/vehicles", json=body, headers=user)).status_code == 422


async def test_curious_users_get_404_for_other_peoples_tags_vehicles_and_records(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    alice_tokens = await signup(http)
    alice = bearer(alice_tokens)
    mallory = bearer(await signup(http))
    vehicle_id = (await http.post("/api/me/vehicles", json={"name": "Alice's"}, headers=alice)).json()["id"]
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        transaction_id = (await charger.start_transaction(1, alice_tokens["idTag"])).transaction_id
    attempts = [
        ("GET", f"/api/me/vehicles/{vehicle_id}", None),
        ("PUT", f"/api/me/vehicles/{vehicle_id}", {"name": "mine now"}),
        ("DELETE", f"/api/me/vehicles/{vehicle_id}", None),
        ("PATCH", f"/api/me/id_tags/{alice_tokens['idTag']}", {"label": "mine"}),
        ("DELETE", f"/api/me/id_tags/{alice_tokens['idTag']}", None),
        ("GET", f"/api/transactions/{transaction_id}", None),
        ("POST", "/api/stop_charging", {"transaction_id": transaction_id}),
    ]
    for method, path, body in attempts:
        response = await http.request(method, path, json=body, headers=mallory)
        assert response.status_code == 404, (method, path, response.status_code)
    own_tag = (await http.get("/api/me", headers=mallory)).json()["id_tags"][0]["id_tag"]
    bind = await http.patch(f"/api/me/id_tags/{own_tag}", json={"vehicle_id": vehicle_id}, headers=mallory)
    assert bind.status_code == 404
    assert (await http.get("/api/transactions", params={"vehicle_id": vehicle_id}, headers=mallory)).json() == []
    still_there = await http.get(f"/api/me/vehicles/{vehicle_id}", headers=alice)
    assert still_there.json()["name"] == "Alice's"
