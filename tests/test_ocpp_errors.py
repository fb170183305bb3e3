"""Bad input from a charger gets the right OCPP 1.6 CallError, and the connection stays up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from csms.simulator.charger import basic_auth_header, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.support.backends import sqlite_only_server
from tests.support.ocpp16 import OCPP16_ERROR_CODES

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[ClientConnection]:
    """A charger connection that sends frames by hand."""
    charge_point_id = await server.add_charger()
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers={"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)},
        max_size=None,
    ) as websocket:
        yield websocket


async def exchange(websocket: ClientConnection, frame: str) -> list[Any]:
    await websocket.send(frame)
    answer = json.loads(await asyncio.wait_for(websocket.recv(), 5))
    assert isinstance(answer, list)
    return answer


async def assert_still_serving(websocket: ClientConnection) -> None:
    answer = await exchange(websocket, '[2, "alive-check", "Heartbeat", {}]')
    assert answer[:2] == [3, "alive-check"] and "currentTime" in answer[2]


@pytest.mark.parametrize(
    ("frame", "unique_id", "code"),
    [
        ("this is not json", "-1", "FormationViolation"),
        ('{"not": "an array"}', "-1", "FormationViolation"),
        ("[2]", "-1", "FormationViolation"),
        pytest.param(
            '[2, "deep", "DataTransfer", {"vendorId": "a", "data": ' + "[" * 5000 + "]" * 5000 + "}]",
            "deep",  # read from the frame's first bytes: the depth is checked before the parser runs
            "FormationViolation",
            id="nested-too-deeply",
        ),
        ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),
        ('[2, "m1", "Heartbeat"]', "m1", "FormationViolation"),
        ('[2, "m2", "Heartbeat", []]', "m2", "FormationViolation"),
        ('[9, "m3", "Heartbeat", {}]', "m3", "FormationViolation"),
        # OCPP-J 1.6 §4.2.3: an action the receiver does not know is NotImplemented; one it knows but
        # does not support (Reset goes to the charger, never from it) is NotSupported.
        ('[2, "m4", "FlyToTheMoon", {}]', "m4", "NotImplemented"),
        ('[2, "m5", "Reset", {"type": "Hard"}]', "m5", "NotSupported"),
        ('[2, "m6", "BootNotification", {"chargePointVendor": "Acme"}]', "m6", "ProtocolError"),
        (
            '[2, "m7", "BootNotification", {"chargePointVendor": 5, "chargePointModel": "X"}]',
            "m7",
            "TypeConstraintViolation",
        ),
        (
            '[2, "m8", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X", "colour": "red"}]',
            "m8",
            "FormationViolation",
        ),
        (
            '[2, "m9", "BootNotification", {"chargePointVendor": "' + "A" * 21 + '", "chargePointModel": "X"}]',
            "m9",
            "TypeConstraintViolation",
        ),
        (
            '[2, "m10", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]',
            "m10",
            "PropertyConstraintViolation",
        ),
        (
            '[2, "m11", "StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}]',
            "m11",
            "PropertyConstraintViolation",
        ),
        (
            '[2, "m12", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "yesterday"}]',
            "m12",
            "PropertyConstraintViolation",
        ),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', "x" * 36, "FormationViolation"),
    ],
)
async def test_bad_frame_gets_a_call_error_and_the_connection_stays_up(
    raw: ClientConnection, frame: str, unique_id: str, code: str
) -> None:
    answer = await exchange(raw, frame)
    assert answer[0] == 4
    assert answer[1] == unique_id
    assert answer[2] == code
    assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    await assert_still_serving(raw)


async def test_every_call_error_code_is_a_1_6_code(raw: ClientConnection) -> None:
    frames = [
        "nope",
        '[2, "a", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B", "x": 1}]',
        '[2, "b", "MeterValues", {"connectorId": 1, "meterValue": []}]',
        '[2, "c", "Authorize", {"idTag": "' + "T" * 30 + '"}]',
    ]
    for frame in frames:
        answer = await exchange(raw, frame)
        assert answer[0] == 4 and answer[2] in OCPP16_ERROR_CODES


async def test_oversized_frame_gets_a_call_error_with_its_message_id(
    server: RunningServer, raw: ClientConnection
) -> None:
    limit = server.app_runtime.settings.ocpp_max_frame_bytes
    frame = '[2, "big-1", "DataTransfer", {"vendorId": "x", "data": "' + "z" * limit + '"}]'
    answer = await exchange(raw, frame)
    assert answer[:3] == [4, "big-1", "FormationViolation"]
    assert "exceeds" in answer[3]
    await assert_still_serving(raw)


DEEP_ARRAY = "[" * 5000 + "]" * 5000


async def test_a_deeply_nested_frame_without_a_readable_id_is_refused_and_the_socket_stays_up(
    raw: ClientConnection,
) -> None:
    answer = await exchange(raw, DEEP_ARRAY)
    assert answer[:3] == [4, "-1", "FormationViolation"]
    await assert_still_serving(raw)


async def test_brackets_inside_strings_do_not_count_as_nesting(raw: ClientConnection) -> None:
    data = json.dumps("[" * 5000)
    answer = await exchange(raw, '[2, "brackets", "DataTransfer", {"vendorId": "x", "data": ' + data + "}]")
    assert answer[:2] == [3, "brackets"]


async def test_one_chargers_garbage_does_not_affect_another(server: RunningServer, raw: ClientConnection) -> None:
    other_id = await server.add_charger()
    async with connect_charger(server.ws_url, other_id, CHARGER_PASSWORD) as other:
        for index in range(20):
            await raw.send(f"garbage {index}")
            assert (await other.heartbeat()).current_time
        answers = [json.loads(await asyncio.wait_for(raw.recv(), 5)) for _ in range(20)]
    assert all(answer[:3] == [4, "-1", "FormationViolation"] for answer in answers)
    await assert_still_serving(raw)


async def test_unsolicited_and_stale_answers_are_ignored_and_not_kept(
    server: RunningServer, raw: ClientConnection
) -> None:
    for index in range(50):
        await raw.send(f'[3, "never-asked-{index}", {{}}]')
        await raw.send(f'[4, "never-asked-err-{index}", "GenericError", "", {{}}]')
    await assert_still_serving(raw)
    [session] = server.app_runtime.registry.all()
    sending = asyncio.create_task(server.app_runtime.commands.send(session.id, "ClearCache", {}))
    call = json.loads(await asyncio.wait_for(raw.recv(), 5))
    assert call[0] == 2 and call[2] == "ClearCache"
    await raw.send(json.dumps([3, "an-older-call", {"status": "Rejected"}]))  # e.g. one that timed out
    await raw.send(json.dumps([3, call[1], {"status": "Accepted"}]))
    assert await asyncio.wait_for(sending, 5) == {"status": "Accepted"}
    assert session._awaited_answer is None


async def test_a_key_that_is_no_valid_text_gets_a_call_error_and_the_connection_goes_on(raw: ClientConnection) -> None:
    # JSON may escape a lone surrogate, which no UTF-8 text (and no database, and not the Rust schema
    # validator) can hold: refused as a property no text can have, never an internal error.
    frame = '[2, "ls", "Heartbeat", {"\\udc00": 1}]'
    answer = await exchange(raw, frame)
    assert answer[:3] == [4, "ls", "PropertyConstraintViolation"]
    await assert_still_serving(raw)
