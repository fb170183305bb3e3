"""Changing a password (the owner, with the old one) and resetting it (an operator): sessions end."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import (
    USER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    new_username,
    node_with,
    signup,
)

NEW_PASSWORD = "another long passphrase"


async def change(http: httpx.AsyncClient, tokens: dict[str, str], old: str, new: str) -> httpx.Response:
    return await http.post("/api/me/password", json={"old_password": old, "new_password": new}, headers=bearer(tokens))


async def login_status(http: httpx.AsyncClient, username: str, password: str) -> int:
    return (await http.post("/api/login", json={"username": username, "password": password})).status_code


async def user_id(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return int((await http.get("/api/me", headers=headers)).json()["id"])


async def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(http: httpx.AsyncClient) -> None:
    username = new_username()
    phone = await signup(http, username)
    laptop = await login_as(http, username)
    assert (await change(http, phone, USER_PASSWORD, NEW_PASSWORD)).status_code == 204
    assert (await http.get("/api/me", headers=bearer(phone))).status_code == 200
    assert (await http.get("/api/me", headers=bearer(laptop))).status_code == 401
    assert (await http.post("/api/token/refresh", json={"refresh_token": laptop["refresh_token"]})).status_code == 401
    assert await login_status(http, username, USER_PASSWORD) == 401
    assert await login_status(http, username, NEW_PASSWORD) == 200


async def test_a_wrong_old_password_changes_nothing(http: httpx.AsyncClient) -> None:
    username = new_username()
    tokens = await signup(http, username)
    refused = await change(http, tokens, "not-the-old-password", NEW_PASSWORD)
    # 403: the login is fine; a 401 would make clients refresh their token and log the driver out.
    assert refused.status_code == 403 and "old password" in refused.json()["detail"]
    assert await login_status(http, username, USER_PASSWORD) == 200


async def test_a_new_password_must_meet_the_rules(http: httpx.AsyncClient) -> None:
    tokens = await signup(http)
    common = await change(http, tokens, USER_PASSWORD, "iloveyou123")
    same = await change(http, tokens, USER_PASSWORD, USER_PASSWORD)
    assert common.status_code == 422 and "most common passwords" in common.json()["detail"]
    assert same.status_code == 422 and "differ from the old" in same.json()["detail"]


async def test_wrong_old_passwords_are_throttled_like_logins(tmp_path: Path) -> None:
    async with (
        node_with(tmp_path, login_failures_per_account_address=3) as node,
        httpx.AsyncClient(base_url=node.http_url, timeout=30) as http,
    ):
        tokens = await signup(http)
        statuses = [(await change(http, tokens, f"guess-number-{n}", NEW_PASSWORD)).status_code for n in range(4)]
    assert statuses == [403, 403, 403, 429]


async def test_an_admin_resets_a_users_password_and_every_session_of_it_ends(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    username = new_username()
    tokens = await signup(http, username)
    target = await user_id(http, bearer(tokens))
    reset = await http.post(f"/api/admin/users/{target}/password", json={"new_password": NEW_PASSWORD}, headers=admin)
    assert reset.status_code == 204
    assert (await http.get("/api/me", headers=bearer(tokens))).status_code == 401
    assert await login_status(http, username, USER_PASSWORD) == 401
    assert await login_status(http, username, NEW_PASSWORD) == 200
    audit = (await http.get("/api/admin/audit_log", headers=admin)).json()
    assert any(entry["path"] == f"/api/admin/users/{target}/password" for entry in audit)


async def test_only_root_resets_the_password_of_an_admin(server: RunningServer, http: httpx.AsyncClient) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    root = bearer(await login_as(http, (await create_account_with_role(server, "root"))[0]))
    other_admin_name, _ = await create_account_with_role(server, "admin")
    other_admin = await user_id(http, bearer(await login_as(http, other_admin_name)))
    body = {"new_password": NEW_PASSWORD}
    by_admin = await http.post(f"/api/admin/users/{other_admin}/password", json=body, headers=admin)
    by_root = await http.post(f"/api/admin/users/{other_admin}/password", json=body, headers=root)
    assert by_admin.status_code == 403 and "only root" in by_admin.json()["detail"]
    assert by_root.status_code == 204
    assert await login_status(http, other_admin_name, NEW_PASSWORD) == 200


async def test_a_reset_to_a_common_password_is_422(server: RunningServer, http: httpx.AsyncClient) -> None:
    admin = bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))
    target = await user_id(http, bearer(await signup(http)))
    reset = await http.post(f"/api/admin/users/{target}/password", json={"new_password": "baseball1"}, headers=admin)
    assert reset.status_code == 422 and "most common passwords" in reset.json()["detail"]
