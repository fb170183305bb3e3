"""Account management: who may see, block, promote and delete whom."""

from __future__ import annotations

import httpx

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup


async def as_role(server: RunningServer, http: httpx.AsyncClient, role: str) -> tuple[dict[str, str], int]:
    username, _ = await create_account_with_role(server, role)
    headers = bearer(await login_as(http, username))
    return headers, (await http.get("/api/me", headers=headers)).json()["id"]


async def user_id_of(http: httpx.AsyncClient, tokens: dict[str, str]) -> int:
    return int((await http.get("/api/me", headers=bearer(tokens))).json()["id"])


async def test_admin_lists_and_searches_users_with_a_total(
    sqlite_server: RunningServer, api: httpx.AsyncClient
) -> None:
    admin, _ = await as_role(sqlite_server, api, "admin")
    await signup(api, "searchable-zebra")
    found = await api.get("/api/admin/users", params={"q": "ZEBRA"}, headers=admin)
    assert [u["username"] for u in found.json()] == ["searchable-zebra"]
    assert found.headers["x-total-count"] == "1"
    page = await api.get("/api/admin/users", params={"limit": 1}, headers=admin)
    assert len(page.json()) == 1 and int(page.headers["x-total-count"]) >= 2


async def test_only_root_changes_roles(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    admin, _ = await as_role(sqlite_server, api, "admin")
    root, _ = await as_role(sqlite_server, api, "root")
    target = await user_id_of(api, await signup(api))
    refused = await api.patch(f"/api/admin/users/{target}", json={"role": "admin"}, headers=admin)
    assert refused.status_code == 403 and "only root" in refused.json()["detail"]
    promoted = await api.patch(f"/api/admin/users/{target}", json={"role": "admin"}, headers=root)
    assert promoted.json()["role"] == "admin"
    demoted = await api.patch(f"/api/admin/users/{target}", json={"role": "user"}, headers=root)
    assert demoted.json()["role"] == "user"


async def test_admin_cannot_touch_root_accounts(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    admin, _ = await as_role(sqlite_server, api, "admin")
    _, root_id = await as_role(sqlite_server, api, "root")
    for method, body in (("GET", None), ("PATCH", {"is_active": False}), ("DELETE", None)):
        response = await api.request(method, f"/api/admin/users/{root_id}", json=body, headers=admin)
        assert response.status_code == 403, method


async def test_invalid_role_is_422(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    root, _ = await as_role(sqlite_server, api, "root")
    target = await user_id_of(api, await signup(api))
    assert (await api.patch(f"/api/admin/users/{target}", json={"role": "god"}, headers=root)).status_code == 422


async def test_nobody_blocks_or_deletes_themselves(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    admin, admin_id = await as_role(sqlite_server, api, "admin")
    assert (
        await api.patch(f"/api/admin/users/{admin_id}", json={"is_active": False}, headers=admin)
    ).status_code == 409
    assert (await api.delete(f"/api/admin/users/{admin_id}", headers=admin)).status_code == 409


async def test_unknown_user_is_404(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    admin, _ = await as_role(sqlite_server, api, "admin")
    assert (await api.patch("/api/admin/users/999999", json={"is_active": False}, headers=admin)).status_code == 404


async def test_deleting_a_user_keeps_their_records_anonymised(server: RunningServer, http: httpx.AsyncClient) -> None:
    admin, _ = await as_role(server, http, "admin")
    tokens = await signup(http)
    user_id = await user_id_of(http, tokens)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await charger.start_transaction(1, tokens["idTag"], meter_start=0)
        await charger.stop_transaction(started.transaction_id, 900)
    assert (await http.delete(f"/api/admin/users/{user_id}", headers=admin)).status_code == 204
    record = (await http.get(f"/api/transactions/{started.transaction_id}", headers=admin)).json()
    assert record["user_id"] is None and record["energy_wh"] == 900
    assert (await http.post("/api/login", json={"username": "x", "password": "y" * 8})).status_code == 401
    assert (await http.get("/api/me", headers=bearer(tokens))).status_code == 401
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert (await charger.authorize(tokens["idTag"])).id_tag_info["status"] == "Invalid"


async def test_admin_reads_an_accounts_vehicles(sqlite_server: RunningServer, api: httpx.AsyncClient) -> None:
    admin, _ = await as_role(sqlite_server, api, "admin")
    driver = await signup(api)
    await api.post("/api/me/vehicles", json={"name": "Family car", "plate": "AB-123-CD"}, headers=bearer(driver))
    vehicles = await api.get(f"/api/admin/users/{await user_id_of(api, driver)}/vehicles", headers=admin)
    assert [(v["name"], v["plate"]) for v in vehicles.json()] == [("Family car", "AB-123-CD")]
    assert (await api.get("/api/admin/users/999999/vehicles", headers=admin)).status_code == 404
    assert (await api.get("/api/admin/users/1/vehicles", headers=bearer(driver))).status_code == 403
