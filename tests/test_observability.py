"""What an operator sees: /metrics, /readyz naming what is down, request ids, JSON logs without secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from csms.observability.logs import JsonFormatter
from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    node_with,
    signup,
)
from tests.support.charging_records import new_tag


@pytest.fixture(scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A node of its own, so its counters start at zero."""
    async with node_with(tmp_path_factory.mktemp("db-metrics"), ocpp_call_timeout=2) as running:
        yield running


@pytest.fixture
async def client(node: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as http:
        yield http


async def sample(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The value of one sample in /metrics (0 when the series does not exist yet)."""
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()):
                return float(found.value)
    return 0.0


async def test_metrics_answer_prometheus_text_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE csms_connected_chargers gauge" in response.text


async def test_metrics_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_metrics_count_connected_chargers_and_answers_by_action_and_result(
    node: RunningServer, client: httpx.AsyncClient
) -> None:
    charge_point_id = await node.add_charger()
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.heartbeat()
        await charger._connection.send('[2, "bad-1", "NoSuchAction", {}]')
        await charger._connection.send('[2, "bad-2", "Heartbeat", {"unexpected": 1}]')
        await charger.heartbeat()  # answered after the two bad calls: their answers are counted
        assert await sample(client, "csms_connected_chargers") == 1
        heartbeats = await sample(
            client, "csms_ocpp_messages_total", origin="charger", action="Heartbeat", result="CallResult"
        )
        assert heartbeats == 2
        assert await sample(client, "csms_ocpp_messages_total", action="other", result="NotImplemented") == 1
        assert await sample(client, "csms_ocpp_messages_total", action="Heartbeat", result="FormationViolation") == 1
    assert await sample(client, "csms_connected_chargers") == 0


async def test_metrics_time_calls_to_chargers_and_count_open_transactions(
    node: RunningServer, client: httpx.AsyncClient
) -> None:
    username, password = await create_account_with_role(node, "admin")
    staff = bearer(await login_as(client, username, password))
    charge_point_id = await node.add_charger()
    id_tag = await new_tag(node)
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        path = f"/api/admin/chargers/{charge_point_id}/ocpp/RemoteStartTransaction"
        answer = await client.post(path, json={"connectorId": 1, "idTag": id_tag}, headers=staff)
        assert answer.status_code == 200, answer.text
        started = await charger.start_transaction(1, id_tag)
        await charger.start_transaction(2, "TAG-UNKNOWN")  # answered Invalid: no charging session
        assert await sample(client, "csms_active_transactions") == 1
        await charger.stop_transaction(started.transaction_id, 100)
    timed = await sample(client, "csms_ocpp_call_seconds_count", action="RemoteStartTransaction", outcome="answered")
    assert timed == 1
    answered = await sample(
        client, "csms_ocpp_messages_total", origin="csms", action="RemoteStartTransaction", result="CallResult"
    )
    assert answered == 1
    assert await sample(client, "csms_active_transactions") == 0


async def test_metrics_count_http_requests_by_route_template(client: httpx.AsyncClient) -> None:
    tokens = await signup(client)
    for transaction_id in (123456, 654321):
        assert (await client.get(f"/api/transactions/{transaction_id}", headers=bearer(tokens))).status_code == 404
    route = "/api/transactions/{transaction_id}"
    assert await sample(client, "csms_http_requests_total", method="GET", route=route, status="404") == 2
    await client.get("/no/such/page/42")
    assert await sample(client, "csms_http_requests_total", route="unmatched", status="404") >= 1


async def test_readyz_answers_503_naming_the_bus_when_it_is_down(
    node: RunningServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ok", "database": "ok", "bus": "ok"}

    async def bus_is_down() -> bool:
        return False

    monkeypatch.setattr(node.app_runtime.bus, "is_healthy", bus_is_down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "detail": "bus: unreachable",
        "database": "ok",
        "bus": "unreachable",
    }


async def test_every_answer_carries_a_request_id_and_keeps_a_plain_one_from_the_caller(
    client: httpx.AsyncClient,
) -> None:
    generated = (await client.get("/healthz")).headers["x-request-id"]
    assert len(generated) == 32
    kept = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["x-request-id"] == "lb-7f3a.42"
    forged = await client.get("/healthz", headers={"X-Request-ID": 'x"\\n{"level": "ERROR"}'})
    assert forged.headers["x-request-id"] != 'x"\\n{"level": "ERROR"}'


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything every logger emits, at DEBUG, formatted as csms writes it in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_server_side)
    root = logging.getLogger()
    # As `csms serve` sets uvicorn up in JSON mode: no logging config of its own, so it propagates to root.
    uvicorn_loggers = [logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")]
    saved = [(logger, logger.level, logger.propagate) for logger in [root, *uvicorn_loggers]]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for logger in uvicorn_loggers:
        logger.setLevel(logging.INFO)
        logger.propagate = True
    yield stream
    root.removeHandler(handler)
    for logger, level, propagate in saved:
        logger.setLevel(level)
        logger.propagate = propagate


def _server_side(record: logging.LogRecord) -> bool:
    """The tests' own HTTP and WebSocket clients log what they send; only csms's lines count here."""
    return not record.name.startswith(("websockets.client", "httpx", "httpcore"))


def log_entries(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_json_log_lines_name_the_request_and_the_charger(
    node: RunningServer, client: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    await client.get("/healthz", headers={"X-Request-ID": "req-json-1"})
    charge_point_id = await node.add_charger()
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.heartbeat()
    entries = log_entries(json_log)
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access" and "/healthz" in entry["message"]]
    assert access and access[0]["request_id"] == "req-json-1"
    connected = [entry for entry in entries if entry["message"] == f"charger {charge_point_id} connected"]
    assert connected and connected[0]["charge_point_id"] == charge_point_id


async def test_logs_never_hold_passwords_tokens_or_authorization_headers(
    node: RunningServer, client: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    password = "a-very-secret-signup-password"
    tokens = await signup(client, password=password)
    login = (await client.post("/api/login", json={"username": "nobody-here", "password": password})).status_code
    assert login == 401
    me = await client.get("/api/me", headers=bearer(tokens))
    assert me.status_code == 200
    refreshed = await client.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    charge_point_id = await node.add_charger()
    async with connect_charger(node.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.heartbeat()
    with pytest.raises(Exception, match="401"):
        async with connect_charger(node.ws_url, charge_point_id, "a-wrong-charger-password-42"):
            pass
    await node.flush_message_log()
    logged = json_log.getvalue()
    assert f"charger {charge_point_id} connected" in logged  # the capture did see this traffic
    secrets = [password, CHARGER_PASSWORD, "a-wrong-charger-password-42", tokens["access_token"]]
    secrets += [tokens["refresh_token"], refreshed.json()["access_token"], "Bearer ", "Basic "]
    assert [secret for secret in secrets if secret in logged] == []
