"""Access and refresh tokens: expiry, tampering, type confusion, rotation, reuse, logout, throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import (
    USER_PASSWORD,
    RunningServer,
    bearer,
    new_username,
    settings_for,
    signup,
    start_server,
    stop_server,
)

TEST_SECRET = settings_for("sqlite+aiosqlite://").jwt_secret


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def forged(token: str, *, key: str | None = TEST_SECRET, **changes: Any) -> str:
    claims = {**claims_of(token), **changes}
    return jwt.encode(claims, key or "", algorithm="HS256")


def unsigned(token: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims_of(token))}."


async def me_status(api: httpx.AsyncClient, token: str) -> tuple[int, str]:
    response = await api.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()["detail"] if response.status_code != 200 else ""


async def test_access_token_carries_expiry_and_type(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    claims = claims_of(tokens["access_token"])
    assert claims["typ"] == "access"
    assert 890 <= claims["exp"] - time.time() <= 901
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"


async def test_expired_access_token_is_401(api: httpx.AsyncClient) -> None:
    token = (await signup(api))["access_token"]
    status, detail = await me_status(api, forged(token, exp=int(time.time()) - 5))
    assert (status, detail) == (401, "token has expired")


async def test_token_signed_with_another_key_is_401(api: httpx.AsyncClient) -> None:
    token = (await signup(api))["access_token"]
    status, detail = await me_status(api, forged(token, key="some-other-secret-of-enough-length-1234"))
    assert status == 401 and "Signature" in detail


async def test_alg_none_token_is_401(api: httpx.AsyncClient) -> None:
    token = (await signup(api))["access_token"]
    assert (await me_status(api, unsigned(token)))[0] == 401


async def test_tampered_claims_are_401(api: httpx.AsyncClient) -> None:
    token = (await signup(api))["access_token"]
    header, _, signature = token.split(".")
    other_claims = forged(token, sub="1").split(".")[1]
    assert (await me_status(api, f"{header}.{other_claims}.{signature}"))[0] == 401


async def test_refresh_token_used_as_access_token_is_401(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    status, detail = await me_status(api, tokens["refresh_token"])
    assert (status, detail) == (401, "a refresh token cannot be used here")


async def test_access_token_used_as_refresh_token_is_401(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    response = await api.post("/api/token/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    response = await api.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["idTag"] == tokens["idTag"]
    assert (await api.get("/api/me", headers=bearer(rotated))).status_code == 200
    second = await api.post("/api/token/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert second.status_code == 200


async def test_reusing_an_old_refresh_token_revokes_the_whole_family(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    rotated = (await api.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    reuse = await api.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401 and "reuse" in reuse.json()["detail"]
    assert (await api.post("/api/token/refresh", json={"refresh_token": rotated["refresh_token"]})).status_code == 401
    assert (await api.get("/api/me", headers=bearer(rotated))).status_code == 401


async def test_of_concurrent_refreshes_with_one_token_exactly_one_wins_and_the_rest_end_the_session(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    answers = await asyncio.gather(
        *(http.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]}) for _ in range(8))
    )
    winners = [answer for answer in answers if answer.status_code == 200]
    losers = [answer for answer in answers if answer.status_code != 200]
    assert len(winners) == 1
    assert {answer.status_code for answer in losers} == {401}
    assert any("reuse" in answer.json()["detail"] for answer in losers)
    # The losers were reuse: the session ended, the winner's new pair with it (one chain, not two).
    won = winners[0].json()
    assert (await http.post("/api/token/refresh", json={"refresh_token": won["refresh_token"]})).status_code == 401
    assert (await http.get("/api/me", headers=bearer(won))).status_code == 401


async def test_logout_ends_the_session_but_not_other_sessions(api: httpx.AsyncClient) -> None:
    username = new_username()
    phone = await signup(api, username)
    laptop = (await api.post("/api/login", json={"username": username, "password": USER_PASSWORD})).json()
    assert (await api.post("/api/logout", headers=bearer(phone))).status_code == 204
    assert (await api.get("/api/me", headers=bearer(phone))).status_code == 401
    assert (await api.post("/api/token/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 401
    assert (await api.get("/api/me", headers=bearer(laptop))).status_code == 200


@pytest.fixture
async def fresh_api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A node of its own, so failed logins here cannot throttle other tests."""
    handle, task, running = await start_server(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    async with httpx.AsyncClient(base_url=running.http_url, timeout=10) as client:
        yield client
    await stop_server(handle, task)


async def test_repeated_failed_logins_for_an_account_are_throttled_with_retry_after(
    fresh_api: httpx.AsyncClient,
) -> None:
    username = new_username()
    await signup(fresh_api, username)
    for _ in range(5):
        failed = await fresh_api.post("/api/login", json={"username": username, "password": "wrong-password"})
        assert failed.status_code == 401
    throttled = await fresh_api.post("/api/login", json={"username": username, "password": USER_PASSWORD})
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 900
    assert "too many" in throttled.json()["detail"]


async def test_failed_logins_across_many_accounts_from_one_address_are_throttled(
    fresh_api: httpx.AsyncClient,
) -> None:
    for _ in range(20):
        failed = await fresh_api.post("/api/login", json={"username": new_username(), "password": "wrong-password"})
        assert failed.status_code == 401
    victim = new_username()
    await signup(fresh_api, victim)
    throttled = await fresh_api.post("/api/login", json={"username": victim, "password": USER_PASSWORD})
    assert throttled.status_code == 429


async def test_blocked_account_tokens_stop_working(api: httpx.AsyncClient, sqlite_server: RunningServer) -> None:
    from sqlalchemy import update

    from csms.db.models import User

    username = new_username()
    tokens = await signup(api, username)
    async with sqlite_server.session() as session:
        await session.execute(update(User).where(User.username == username).values(is_active=False))
        await session.commit()
    assert (await api.get("/api/me", headers=bearer(tokens))).status_code == 401
    login = await api.post("/api/login", json={"username": username, "password": USER_PASSWORD})
    assert login.status_code == 401
