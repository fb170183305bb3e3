"""Accounts: signup, login, me, and the rules on usernames and passwords."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
from argon2.exceptions import VerificationError
from sqlalchemy import select

from csms.db.models import User
from csms.security import USER_PASSWORD_HASHER
from tests.conftest import USER_PASSWORD, RunningServer, bearer, new_username, signup


async def test_signup_returns_tokens_and_an_id_tag_that_authorizes(api: httpx.AsyncClient) -> None:
    tokens = await signup(api)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in", "idTag"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    assert 1 <= len(tokens["idTag"]) <= 20
    me = (await api.get("/api/me", headers=bearer(tokens))).json()
    assert me["role"] == "user"
    assert [tag["id_tag"] for tag in me["id_tags"]] == [tokens["idTag"]]


async def test_every_account_gets_its_own_id_tag(api: httpx.AsyncClient) -> None:
    tags = {(await signup(api))["idTag"] for _ in range(5)}
    assert len(tags) == 5


async def test_password_is_stored_as_argon2id_with_at_least_owasp_parameters(
    api: httpx.AsyncClient, sqlite_server: RunningServer
) -> None:
    username = new_username()
    await signup(api, username)
    async with sqlite_server.session() as session:
        stored = (await session.scalars(select(User).where(User.username == username))).one()
    assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert USER_PASSWORD not in stored.password_hash


async def test_login_rehashes_a_password_stored_with_weaker_parameters(
    api: httpx.AsyncClient, sqlite_server: RunningServer
) -> None:
    from argon2 import PasswordHasher

    username = new_username()
    await signup(api, username)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(USER_PASSWORD)
    async with sqlite_server.session() as session:
        user = (await session.scalars(select(User).where(User.username == username))).one()
        user.password_hash = weak
        await session.commit()
    assert (await api.post("/api/login", json={"username": username, "password": USER_PASSWORD})).status_code == 200
    async with sqlite_server.session() as session:
        user = (await session.scalars(select(User).where(User.username == username))).one()
    assert user.password_hash != weak
    assert not USER_PASSWORD_HASHER.check_needs_rehash(user.password_hash)


async def test_duplicate_username_is_refused_with_409(api: httpx.AsyncClient) -> None:
    username = new_username()
    await signup(api, username)
    again = await api.post("/api/signup", json={"username": username.upper(), "password": USER_PASSWORD})
    assert again.status_code == 409
    assert "taken" in again.json()["detail"]


@pytest.mark.parametrize(
    ("username", "password", "fragment"),
    [
        ("ab", USER_PASSWORD, "username"),
        ("has space", USER_PASSWORD, "username"),
        ("-starts-with-dash", USER_PASSWORD, "username"),
        ("fine-name", "short", "password"),
        ("fine-name", "x" * 129, "password"),
        ("samesame", "SAMESAME", "differ"),
        ("fine-name", "Password123", "most common passwords"),
        ("fine-name", "qwertyuiop", "most common passwords"),
    ],
)
async def test_signup_rules_are_explained_with_422(
    api: httpx.AsyncClient, username: str, password: str, fragment: str
) -> None:
    response = await api.post("/api/signup", json={"username": username, "password": password})
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


async def test_signup_with_missing_fields_is_422_json(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/signup", json={"username": "someone"})
    assert response.status_code == 422
    assert "detail" in response.json()


async def test_login_returns_a_working_token_pair(api: httpx.AsyncClient) -> None:
    username = new_username()
    created = await signup(api, username)
    response = await api.post("/api/login", json={"username": username, "password": USER_PASSWORD})
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["idTag"] == created["idTag"]
    assert (await api.get("/api/me", headers=bearer(tokens))).json()["username"] == username


async def test_unknown_user_and_wrong_password_get_the_same_answer_and_both_pay_for_a_hash(
    api: httpx.AsyncClient,
) -> None:
    username = new_username()
    await signup(api, username)
    known_hash = USER_PASSWORD_HASHER.hash("the-right-password")

    async def timed(name: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        response = await api.post("/api/login", json={"username": name, "password": "wrong-password-here"})
        return response.status_code, response.json()["detail"], time.perf_counter() - started

    def one_verification() -> float:
        started = time.perf_counter()
        with contextlib.suppress(VerificationError):
            USER_PASSWORD_HASHER.verify(known_hash, "wrong-password-here")
        return time.perf_counter() - started

    wrong, unknown, verifications = [], [], []
    for _ in range(3):  # interleaved, so a burst of load on the machine weighs on all three alike
        wrong.append(await timed(username))
        unknown.append(await timed(new_username()))
        verifications.append(one_verification())
    assert {(status, detail) for status, detail, _ in wrong} == {(401, "wrong username or password")}
    assert {(status, detail) for status, detail, _ in unknown} == {(401, "wrong username or password")}
    # Each login waits for one argon2id verification (a busy machine only adds to that); a skipped hash
    # would answer about a hundred times faster than one verification.
    verification = min(verifications)
    assert min(t for *_, t in wrong) > verification / 4
    assert min(t for *_, t in unknown) > verification / 4


async def test_me_without_a_token_is_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
