"""Reservations: a user reserves a connector from the app, the charger gets ReserveNow, and a
StartTransaction naming the reservation consumes it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer, bearer, signup
from tests.operating import admin, ocpp_call, online_charger, payloads_received

__all__ = ["admin"]


async def reserve(http: httpx.AsyncClient, user: dict[str, Any], charge_point_id: str, **extra: Any) -> httpx.Response:
    return await http.post(
        "/api/reservations", json={"evse_id": charge_point_id, "connector_id": 1, **extra}, headers=bearer(user)
    )


async def test_a_user_reserves_a_connector_and_the_charger_gets_reserve_now(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    user = await signup(http)
    async with online_charger(server) as charger:
        before = datetime.now(UTC)
        response = await reserve(http, user, charger.id, minutes=30)
        sent = payloads_received(charger, "ReserveNow")
    reservation = response.json()
    assert response.status_code == 200 and reservation["status"] == "Accepted"
    assert sent == [
        {
            "connectorId": 1,
            "expiryDate": sent[0]["expiryDate"],
            "idTag": user["idTag"],
            "reservationId": reservation["id"],
        }
    ]
    expiry = datetime.fromisoformat(sent[0]["expiryDate"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < expiry - before < timedelta(minutes=31)
    mine = (await http.get("/api/reservations", headers=bearer(user))).json()
    assert [(item["id"], item["status"]) for item in mine] == [(reservation["id"], "Accepted")]


async def test_a_start_transaction_with_the_reservation_id_consumes_it(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    user = await signup(http)
    async with online_charger(server) as charger:
        reservation = (await reserve(http, user, charger.id)).json()
        started = await charger.start_transaction(1, user["idTag"], reservation_id=reservation["id"])
    mine = (await http.get("/api/reservations", headers=bearer(user))).json()
    assert (mine[0]["status"], mine[0]["transaction_id"]) == ("Used", started.transaction_id)


async def test_a_connector_already_reserved_is_409(server: RunningServer, http: httpx.AsyncClient) -> None:
    first, second = await signup(http), await signup(http)
    async with online_charger(server) as charger:
        await reserve(http, first, charger.id)
        response = await reserve(http, second, charger.id)
    assert response.status_code == 409 and "already reserved" in response.json()["detail"]


async def test_an_account_holds_at_most_one_reservation_at_a_time(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    user = await signup(http)
    async with online_charger(server, connectors=2) as charger:
        first = (await reserve(http, user, charger.id)).json()
        second = await http.post(
            "/api/reservations", json={"evse_id": charger.id, "connector_id": 2}, headers=bearer(user)
        )
        await http.delete(f"/api/reservations/{first['id']}", headers=bearer(user))
        after_cancelling = await http.post(
            "/api/reservations", json={"evse_id": charger.id, "connector_id": 2}, headers=bearer(user)
        )
    assert second.status_code == 409 and "the most it may" in second.json()["detail"]
    assert after_cancelling.status_code == 200 and after_cancelling.json()["status"] == "Accepted"


async def test_concurrent_reservations_of_one_account_hold_one_connector(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    user = await signup(http)
    async with online_charger(server, connectors=4) as charger:
        answers = await asyncio.gather(
            *(
                http.post("/api/reservations", json={"evse_id": charger.id, "connector_id": n}, headers=bearer(user))
                for n in range(1, 5)
            )
        )
    assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]


async def test_a_reservation_longer_than_the_maximum_is_422(server: RunningServer, http: httpx.AsyncClient) -> None:
    user = await signup(http)
    async with online_charger(server) as charger:
        response = await reserve(http, user, charger.id, minutes=24 * 60)
    assert response.status_code == 422 and "1 to 60 minutes" in response.json()["detail"]


async def test_the_chargers_refusal_is_the_reservations_status(server: RunningServer, http: httpx.AsyncClient) -> None:
    user = await signup(http)
    behaviour = ChargerBehaviour(answers={"ReserveNow": lambda _: call_result.ReserveNow(status="Occupied")})
    async with online_charger(server, behaviour) as charger:
        response = await reserve(http, user, charger.id)
    assert response.json()["status"] == "Occupied"


async def test_a_user_cancels_a_reservation(server: RunningServer, http: httpx.AsyncClient) -> None:
    user = await signup(http)
    async with online_charger(server) as charger:
        reservation = (await reserve(http, user, charger.id)).json()
        cancelled = await http.delete(f"/api/reservations/{reservation['id']}", headers=bearer(user))
        sent = payloads_received(charger, "CancelReservation")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "Cancelled")
    assert sent == [{"reservationId": reservation["id"]}]


async def test_someone_elses_reservation_looks_unknown(server: RunningServer, http: httpx.AsyncClient) -> None:
    owner, other = await signup(http), await signup(http)
    async with online_charger(server) as charger:
        reservation = (await reserve(http, owner, charger.id)).json()
    response = await http.delete(f"/api/reservations/{reservation['id']}", headers=bearer(other))
    assert response.status_code == 404


async def test_a_reservation_past_its_expiry_shows_expired(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    payload = {"connectorId": 1, "expiryDate": past, "idTag": "ADMIN-TAG", "reservationId": 880001}
    async with online_charger(server) as charger:
        await ocpp_call(http, admin, charger.id, "ReserveNow", payload)
    listed = (await http.get(f"/api/admin/chargers/{charger.id}/reservations", headers=admin)).json()
    assert [(item["id"], item["status"]) for item in listed] == [(880001, "Expired")]


async def test_reserving_at_an_offline_charger_is_409(server: RunningServer, http: httpx.AsyncClient) -> None:
    user = await signup(http)
    response = await reserve(http, user, await server.add_charger())
    assert response.status_code == 409


async def test_a_reservation_carries_the_group_of_the_drivers_tag(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    user = await signup(http)
    grouped = await http.patch(f"/api/admin/id_tags/{user['idTag']}", json={"parent_id_tag": "FLEET-7"}, headers=admin)
    assert grouped.status_code == 200, grouped.text
    async with online_charger(server) as charger:
        response = await reserve(http, user, charger.id)
        sent = payloads_received(charger, "ReserveNow")
    assert response.status_code == 200, response.text
    # Any card of the group may use it at the charger (1.6 §3.12.4).
    assert sent[0]["idTag"] == user["idTag"] and sent[0]["parentIdTag"] == "FLEET-7"
