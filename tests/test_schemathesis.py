"""schemathesis against /openapi.json on a running csms: no answer is a 5xx, every answer matches its schema.

The server runs in this process's event loop, so schemathesis (synchronous HTTP) runs in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import (
    BACKENDS,
    RunningServer,
    create_account_with_role,
    fresh_database,
    login_as,
    settings_for,
    start_server,
    stop_server,
)

EXAMPLES_PER_OPERATION = 20
# The operations are fuzzed in this many parts: one part was the suite's longest test (up to 130 s).
SHARDS = 2
# Operations that end the caller's session or never finish answering: fuzzed, they would stop the run.
SKIPPED_PATHS = r"^/api/(logout|events)$"


@pytest.fixture(scope="module", params=BACKENDS)
def database_of_its_own(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database on each backend: the run leaves random accounts, chargers and tags behind."""
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
async def node(database_of_its_own: str) -> AsyncIterator[RunningServer]:
    handle, task, running = await start_server(settings_for(database_of_its_own, ocpp_call_timeout=1))
    yield running
    await stop_server(handle, task)


def fuzz_operation(operation: APIOperation, base_url: str, headers: dict[str, str]) -> str | None:
    """Run one operation's examples; the first failure's report, or None."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Case) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers=headers,
            checks=[not_a_server_error, response_schema_conformance],
            timeout=10,
        )

    try:
        check()
    except Exception as failure:
        return f"{operation.label}: {failure}"
    return None


def fuzz_api(base_url: str, headers: dict[str, str], *, shard: int) -> list[str]:
    """Fuzz every SHARDS-th operation from `shard` on: the shards run on make test's two workers at once."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(path_regex=SKIPPED_PATHS)
    failures = []
    for result in list(schema.get_all_operations())[shard::SHARDS]:
        failure = fuzz_operation(result.ok(), base_url, headers)
        if failure is not None:
            failures.append(failure)
    return failures


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_no_operation_answers_5xx_or_breaks_its_schema(node: RunningServer, shard: int) -> None:
    username, password = await create_account_with_role(node, "admin")
    async with httpx.AsyncClient(base_url=node.http_url) as client:
        token = (await login_as(client, username, password))["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    failures = await asyncio.to_thread(fuzz_api, node.http_url, headers, shard=shard)
    assert failures == [], "\n\n".join(failures)


# -- what earlier runs found -----------------------------------------------------------------

HUGE = 10**25


@pytest.mark.parametrize(
    "path",
    [f"/api/transactions/{HUGE}", f"/api/transactions.csv?vehicle_id={HUGE}", f"/api/admin/users/{-HUGE}"],
)
async def test_a_number_beyond_the_database_range_is_a_422_not_a_500(
    server: RunningServer, http: httpx.AsyncClient, path: str
) -> None:
    username, password = await create_account_with_role(server, "admin")
    headers = {"Authorization": f"Bearer {(await login_as(http, username, password))['access_token']}"}
    response = await http.get(path, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"].startswith("a value cannot be stored")


async def test_the_documented_422_allows_a_plain_string_detail(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    detail = schema["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    assert {"type": "string"} in detail["anyOf"]
