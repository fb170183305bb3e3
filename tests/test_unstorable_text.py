"""Text the databases cannot store (a NUL, a lone surrogate) is refused where it arrives, and costs
no other charger or user anything: OCPP frames get the CallError that names it, REST requests a 422."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection

from csms.db.models import AuditRecord, Charger, OcppMessage, SecurityEvent
from csms.simulator.charger import basic_auth_header, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, new_username, signup
from tests.operating import admin

__all__ = ["admin"]

# As a charger or a browser sends them: JSON escapes, so the frame and the body are plain ASCII.
LONE_SURROGATE = "\\ud800"
NUL = "\\u0000"


@asynccontextmanager
async def raw_charger(server: RunningServer) -> AsyncIterator[tuple[str, ClientConnection]]:
    """A registered charger's connection that sends frames by hand."""
    charge_point_id = await server.add_charger()
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers={"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)},
    ) as websocket:
        yield charge_point_id, websocket


async def exchange(websocket: ClientConnection, frame: str) -> list[Any]:
    await websocket.send(frame)
    answer = json.loads(await asyncio.wait_for(websocket.recv(), 10))
    assert isinstance(answer, list)
    return answer


async def count(server: RunningServer, query: Any) -> int:
    async with server.session() as session:
        return int((await session.execute(query)).scalar_one())


def frames_of(charge_point_id: str) -> Any:
    return select(func.count()).select_from(OcppMessage).where(OcppMessage.charge_point_id == charge_point_id)


def events_of(charge_point_id: str) -> Any:
    return select(func.count()).select_from(SecurityEvent).where(SecurityEvent.charge_point_id == charge_point_id)


@pytest.mark.parametrize("poison", [LONE_SURROGATE, NUL], ids=["lone-surrogate", "nul"])
async def test_a_poisoned_message_id_costs_the_other_chargers_and_operators_nothing(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], poison: str
) -> None:
    async def charger_at_work(index: int) -> str:
        charge_point_id = await server.add_charger()
        async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            for _ in range(3):
                await charger.heartbeat()
                await charger.security_event("InvalidMessages", tech_info=f"charger {index}")
        return charge_point_id

    unknown_charger = f"CP-UNKNOWN-{new_username()}"

    async def operator_at_work() -> None:
        for _ in range(3):
            response = await http.post(
                f"/api/admin/chargers/{unknown_charger}/ocpp/Reset", json={"type": "Soft"}, headers=admin
            )
            assert response.status_code == 404  # a change that fails is audited too

    async def poisoned_frames(websocket: ClientConnection) -> list[list[Any]]:
        for index in range(5):
            await websocket.send(f'[2, "{poison}{index}", "Heartbeat", {{}}]')
        return [json.loads(await asyncio.wait_for(websocket.recv(), 10)) for _ in range(5)]

    async with raw_charger(server) as (poisoned_id, poisoned):
        chargers, refused, _ = await asyncio.gather(
            asyncio.gather(*(charger_at_work(index) for index in range(12))),
            poisoned_frames(poisoned),
            operator_at_work(),
        )
    await server.app_runtime.writer.flush()

    assert await count(server, frames_of(poisoned_id)) == 10  # kept, escaped
    for charge_point_id in chargers:
        assert await count(server, frames_of(charge_point_id)) == 12  # 6 calls and their 6 answers
        assert await count(server, events_of(charge_point_id)) == 3
        heartbeat = select(Charger.last_heartbeat_at).where(Charger.charge_point_id == charge_point_id)
        async with server.session() as session:
            assert (await session.execute(heartbeat)).scalar_one() is not None
    audited = select(func.count()).select_from(AuditRecord).where(AuditRecord.path.contains(unknown_charger))
    assert await count(server, audited) == 3
    # The id cannot be echoed: it is the very text that cannot be stored.
    assert [answer[:3] for answer in refused] == [[4, "-1", "FormationViolation"]] * 5


@pytest.mark.parametrize(
    ("frame", "code", "description"),
    [
        (
            '[2, "t1", "SecurityEventNotification", {"type": "InvalidMessages", "timestamp": "2026-03-01T10:00:00Z",'
            f' "techInfo": "a{NUL}b"}}]',
            "PropertyConstraintViolation",
            "techInfo: contains a NUL character",
        ),
        (
            f'[2, "t2", "BootNotification", {{"chargePointVendor": "{LONE_SURROGATE}", "chargePointModel": "X"}}]',
            "PropertyConstraintViolation",
            "chargePointVendor: contains a lone surrogate U+D800",
        ),
        (
            '[2, "t3", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2026-03-01T10:00:00Z",'
            f' "sampledValue": [{{"value": "1{NUL}"}}]}}]}}]',
            "PropertyConstraintViolation",
            "meterValue/0/sampledValue/0/value: contains a NUL character",
        ),
        (
            f'[2, "t4", "DataTransfer", {{"vendorId": "acme", "data{LONE_SURROGATE}": "x"}}]',
            "PropertyConstraintViolation",
            "data\\ud800: contains a lone surrogate U+D800",
        ),
        (f'[2, "t5", "Heart{NUL}beat", {{}}]', "FormationViolation", "the action contains a NUL character"),
    ],
    ids=["security-event-tech-info", "boot-vendor", "nested-meter-value", "payload-key", "action"],
)
async def test_unstorable_text_in_a_call_gets_the_call_error_naming_it_and_nothing_is_stored(
    server: RunningServer, frame: str, code: str, description: str
) -> None:
    async with raw_charger(server) as (charge_point_id, websocket):
        unique_id = json.loads(frame)[1]
        assert await exchange(websocket, frame) == [4, unique_id, code, description, {}]
        alive = await exchange(websocket, '[2, "alive", "Heartbeat", {}]')
        assert alive[:2] == [3, "alive"]
    await server.app_runtime.writer.flush()
    assert await count(server, events_of(charge_point_id)) == 0  # never acknowledged, then lost
    booted = select(Charger.last_boot_at).where(Charger.charge_point_id == charge_point_id)
    async with server.session() as session:
        assert (await session.execute(booted)).scalar_one() is None
    assert await count(server, frames_of(charge_point_id)) == 4  # the refused frame is in the log


async def test_a_security_event_is_acknowledged_once_it_is_stored(server: RunningServer) -> None:
    async with raw_charger(server) as (charge_point_id, websocket):
        frame = (
            '[2, "s1", "SecurityEventNotification", {"type": "InvalidMessages", "timestamp": "2026-03-01T10:00:00Z"}]'
        )
        assert await exchange(websocket, frame) == [3, "s1", {}]
        # No flush: the answer itself says the event is in the database.
        assert await count(server, events_of(charge_point_id)) == 1


async def test_unstorable_text_in_a_chargers_answer_fails_the_command_not_the_node(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with raw_charger(server) as (charge_point_id, websocket):
        command = asyncio.create_task(
            http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/GetConfiguration", json={}, headers=admin)
        )
        call = json.loads(await asyncio.wait_for(websocket.recv(), 10))
        assert call[2] == "GetConfiguration"
        await websocket.send(f'[3, "{call[1]}", {{"unknownKey": ["a{NUL}"]}}]')
        response = await command
        assert await exchange(websocket, '[2, "alive", "Heartbeat", {}]') != []
    assert response.status_code == 502, response.text
    assert "unknownKey/0: contains a NUL character" in response.json()["detail"]


def raw_json(body: str) -> dict[str, Any]:
    """Keyword arguments for httpx that send `body` byte for byte as a JSON body."""
    return {"content": body.encode(), "headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize("poison", [LONE_SURROGATE, NUL], ids=["lone-surrogate", "nul"])
@pytest.mark.parametrize("path", ["/api/login", "/api/signup"])
async def test_unstorable_text_in_an_unauthenticated_body_is_422(
    http: httpx.AsyncClient, path: str, poison: str
) -> None:
    body = f'{{"username": "{new_username()}{poison}", "password": "a-long-user-password"}}'
    response = await http.post(path, **raw_json(body))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


@pytest.mark.parametrize("poison", [LONE_SURROGATE, NUL], ids=["lone-surrogate", "nul"])
async def test_unstorable_text_in_an_authenticated_body_is_422_and_nothing_is_stored(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], poison: str
) -> None:
    body = f'{{"charge_point_id": "CP-{poison}", "password": "a-charger-password-0123"}}'
    response = await http.post(
        "/api/admin/chargers", **{**raw_json(body), "headers": {**admin, "Content-Type": "application/json"}}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "charge_point_id"]
    listed = (await http.get("/api/admin/chargers", headers=admin)).json()
    assert not [charger for charger in listed if charger["charge_point_id"].startswith("CP-\\")]


async def test_a_user_gets_422_for_unstorable_text_in_an_ordinary_request(http: httpx.AsyncClient) -> None:
    user = bearer(await signup(http))
    response = await http.post(
        "/api/pair",
        content=f'{{"qr": "{LONE_SURROGATE}"}}'.encode(),
        headers={**user, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/api/login", b'{"username": "surrogate-\xed\xa0\x80", "password": "p"}', "not UTF-8"),
        ("/api/start_charging", b'{"evse_id": "\xff"}', "not UTF-8"),
    ],
    ids=["surrogate-as-bytes", "not-utf-8"],
)
async def test_a_body_whose_bytes_are_not_utf_8_is_422(
    http: httpx.AsyncClient, path: str, body: bytes, reason: str
) -> None:
    user = bearer(await signup(http))
    response = await http.post(path, content=body, headers={**user, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "url",
    ["/api/admin/security_events?charge_point_id=CP%00", "/api/admin/chargers/CP%00"],
    ids=["query", "path"],
)
async def test_a_nul_in_the_query_or_path_is_422(http: httpx.AsyncClient, admin: dict[str, str], url: str) -> None:
    response = await http.get(url, headers=admin)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"][0]["msg"]


async def test_a_charger_id_with_a_nul_is_refused_before_the_upgrade(server: RunningServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{server.ws_url}/ocpp/CP%00", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 400
    assert b"NUL" in refused.value.response.body
