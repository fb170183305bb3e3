"""REST bodies from outside: JSON nested too deeply is refused with 422 JSON on every route, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import bearer, new_username, signup

DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a": ' * 5000 + "1" + "}" * 5000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/api/signup", "/api/start_charging", "/api/admin/chargers"])
async def test_a_deeply_nested_body_gets_422_json(api: httpx.AsyncClient, path: str, body: str) -> None:
    headers = {"content-type": "application/json", **bearer(await signup(api))}
    response = await api.post(path, content=body, headers=headers)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["type"] == "json_invalid" and "deeper" in problem["msg"]


async def test_brackets_inside_a_string_are_not_nesting(api: httpx.AsyncClient) -> None:
    body = {"username": "[" * 5000, "password": "a-long-user-password"}
    response = await api.post("/api/signup", json=body)
    assert response.status_code == 422  # the username's own rules refuse it, not the depth limit
    assert all(problem["type"] != "json_invalid" for problem in response.json()["detail"])


async def test_a_json_body_sent_in_chunks_still_reaches_the_route(api: httpx.AsyncClient) -> None:
    username = new_username()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "' + username.encode()
        yield b'", "password": "a-long-user-password"}'

    response = await api.post("/api/signup", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
