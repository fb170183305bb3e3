"""Property tests on OCPP frame handling: whatever a charger sends, it gets a well-formed 1.6 answer
on the same connection, and the connection keeps working.

Frames come from the charger-initiated actions' own 1.6 schemas (valid calls), those calls mutated
(a field dropped, added, retyped or oversized), and junk: random JSON, text, bytes, wrong types and
huge message ids. All of them go down ONE long-lived connection, as a misbehaving charger would send them.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp.messages import get_validator
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from csms.simulator.charger import basic_auth_header
from tests.conftest import CHARGER_PASSWORD, RunningServer, settings_for, start_server, stop_server
from tests.support.ocpp16 import MAX_UNIQUE_ID_LENGTH, OCPP16_ERROR_CODES

CHARGER_ACTIONS = [
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
]
ANSWER_TIMEOUT = 5.0

# -- strategies -----------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
TIMESTAMPS = st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
# Small numbers a handler accepts, any size, and the edges of OCPP's 32-bit integer.
INTEGERS = st.one_of(
    st.integers(-3, 5), st.integers(), st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**30])
)
MESSAGE_IDS = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=MAX_UNIQUE_ID_LENGTH)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against one of the ocpp package's (small, draft-04) 1.6 schemas."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: strategy for name, strategy in properties.items() if name in required},
            optional={name: strategy for name, strategy in properties.items() if name not in required},
        )
    if kind == "array":
        return st.lists(from_schema(schema["items"]), min_size=schema.get("minItems", 0), max_size=3)
    if kind == "string":
        return TIMESTAMPS if schema.get("format") == "date-time" else st.text(max_size=schema.get("maxLength", 50))
    if kind == "integer":
        return INTEGERS
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return JSON


def _schema(action: str) -> dict[str, Any]:
    schema: dict[str, Any] = get_validator(2, action, "1.6").schema
    return schema


VALID_CALLS = st.sampled_from(CHARGER_ACTIONS).flatmap(
    lambda action: st.tuples(MESSAGE_IDS, st.just(action), from_schema(_schema(action)))
)


@st.composite
def mutated_payload(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    mutated = dict(payload)
    how = draw(st.sampled_from(["drop", "add", "retype", "oversize"]))
    if how == "add" or not mutated:
        mutated[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
    elif how == "drop":
        del mutated[draw(st.sampled_from(sorted(mutated)))]
    elif how == "retype":
        mutated[draw(st.sampled_from(sorted(mutated)))] = draw(JSON)
    else:
        mutated[draw(st.sampled_from(sorted(mutated)))] = draw(st.sampled_from(["x" * 10_000, 10**40, -(10**40)]))
    return mutated


MUTATED_CALLS = VALID_CALLS.flatmap(
    lambda found: st.tuples(st.just(found[0]), st.just(found[1]), mutated_payload(found[2]))
)


def as_call(parts: tuple[str, str, Any]) -> str:
    return json.dumps([2, *parts])


WRONG_SHAPES = st.one_of(
    st.tuples(st.sampled_from([2, 3, 4, 5, "2", None, 2.0]), JSON, JSON, JSON).map(
        lambda parts: json.dumps(list(parts))
    ),
    st.lists(JSON, max_size=6).map(json.dumps),
    st.tuples(st.text(min_size=37, max_size=500), st.sampled_from(CHARGER_ACTIONS)).map(
        lambda parts: json.dumps([2, parts[0], parts[1], {}])
    ),
    st.tuples(MESSAGE_IDS, JSON).map(lambda parts: json.dumps([2, parts[0], parts[1], {}])),
)
JUNK = st.one_of(JSON.map(json.dumps), st.text(max_size=200), st.binary(max_size=200))
FRAMES = st.one_of(VALID_CALLS.map(as_call), MUTATED_CALLS.map(as_call), WRONG_SHAPES, JUNK)

# -- the property ---------------------------------------------------------------------------


def expects_answer(frame: str | bytes) -> bool:
    """Every frame gets an answer except a well-formed CallResult or CallError (answers need none)."""
    try:
        decoded = json.loads(frame)
    except ValueError:
        return True
    if not isinstance(decoded, list) or len(decoded) < 2 or not isinstance(decoded[1], str):
        return True
    if not 0 < len(decoded[1]) <= MAX_UNIQUE_ID_LENGTH:
        return True
    message_type = decoded[0]
    is_answer = type(message_type) is int and (message_type, len(decoded)) in {(3, 3), (4, 5)}
    return not is_answer


def assert_well_formed(answer: str) -> None:
    decoded = json.loads(answer)
    assert isinstance(decoded, list), answer
    assert isinstance(decoded[1], str) and 0 < len(decoded[1]) <= MAX_UNIQUE_ID_LENGTH, answer
    if decoded[0] == 3:
        assert len(decoded) == 3 and isinstance(decoded[2], dict), answer
        return
    assert decoded[0] == 4 and len(decoded) == 5, answer
    # A charger's mistake is named for what it is; InternalError would mean csms itself failed.
    assert decoded[2] in OCPP16_ERROR_CODES - {"InternalError"}, answer
    assert isinstance(decoded[3], str) and isinstance(decoded[4], dict), answer


@pytest.fixture(scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    path: Path = tmp_path_factory.mktemp("db-fuzz") / "csms.db"
    # A charger's message budget would answer SecurityError to most of a fast fuzz run.
    settings = settings_for(f"sqlite+aiosqlite:///{path}", ocpp_message_rate=1e6, ocpp_message_burst=10**6)
    handle, task, running = await start_server(settings)
    yield running
    await stop_server(handle, task)


@pytest.fixture(scope="module")
async def connection(node: RunningServer) -> AsyncIterator[ClientConnection]:
    charge_point_id = await node.add_charger("CP-FUZZ")
    async with websockets.connect(
        f"{node.ws_url}/ocpp/{charge_point_id}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers={"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)},
        ping_interval=None,
        max_size=None,
    ) as websocket:
        yield websocket


async def exchange(connection: ClientConnection, frame: str | bytes) -> str:
    await connection.send(frame)
    async with asyncio.timeout(ANSWER_TIMEOUT):
        answer = await connection.recv()
    assert isinstance(answer, str)
    return answer


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=FRAMES)
async def test_every_frame_gets_a_well_formed_answer_and_the_connection_survives(
    connection: ClientConnection, frame: str | bytes
) -> None:
    if expects_answer(frame):
        assert_well_formed(await exchange(connection, frame))
    else:
        await connection.send(frame)
    heartbeat = json.loads(await exchange(connection, '[2, "hb", "Heartbeat", {}]'))
    assert heartbeat[:2] == [3, "hb"] and "currentTime" in heartbeat[2]


async def test_valid_calls_are_answered_with_a_call_result_that_echoes_their_id(connection: ClientConnection) -> None:
    boot = {"chargePointVendor": "fuzz", "chargePointModel": "fuzz"}
    answer = json.loads(await exchange(connection, json.dumps([2, "boot-1", "BootNotification", boot])))
    assert answer[:2] == [3, "boot-1"] and answer[2]["status"] == "Accepted"


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        (
            "StartTransaction",
            {"connectorId": 2**31, "idTag": "T", "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z"},
        ),
        ("StatusNotification", {"connectorId": 10**30, "errorCode": "NoError", "status": "Available"}),
        ("StopTransaction", {"transactionId": -(2**31) - 1, "meterStop": 1, "timestamp": "2024-01-01T00:00:00Z"}),
    ],
)
async def test_integers_beyond_32_bits_get_a_type_constraint_violation_not_an_internal_error(
    connection: ClientConnection, action: str, payload: dict[str, Any]
) -> None:
    answer = json.loads(await exchange(connection, json.dumps([2, "big", action, payload])))
    assert answer[:3] == [4, "big", "TypeConstraintViolation"]
    oversized = next(key for key, value in payload.items() if isinstance(value, int) and abs(value) >= 2**31)
    assert answer[3] == f"{oversized}: not a 32-bit integer"
