"""The OCPP message log stays within bounds whatever a charger sends: budget, truncation, retention."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection

from csms.db.models import OcppMessage
from csms.services.clock import utc_now
from csms.simulator.charger import basic_auth_header, connect_charger
from tests.conftest import (
    BACKENDS,
    CHARGER_PASSWORD,
    RunningServer,
    fresh_database,
    settings_for,
    start_server,
    stop_server,
)
from tests.operating import admin
from tests.support.waiting import wait_for_true

__all__ = ["admin"]


@asynccontextmanager
async def raw_charger(server: RunningServer, charge_point_id: str) -> AsyncIterator[ClientConnection]:
    """A charger's socket that sends frames by hand."""
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers={"Authorization": basic_auth_header(charge_point_id, CHARGER_PASSWORD)},
        max_size=None,
    ) as websocket:
        yield websocket


async def answer_to(websocket: ClientConnection, unique_id: str, *, within: float = 30) -> list[Any]:
    """Read the socket's frames until the answer to `unique_id`, skipping the answers before it."""
    async with asyncio.timeout(within):
        while True:
            answer = json.loads(await websocket.recv())
            if answer[1] == unique_id:
                return list(answer)


async def logged_frames(server: RunningServer, charge_point_id: str) -> tuple[int, int]:
    """The rows and the characters of frames the message log holds for a charger."""
    await server.flush_message_log()
    query = select(func.count(), func.coalesce(func.sum(func.length(OcppMessage.frame)), 0)).where(
        OcppMessage.charge_point_id == charge_point_id
    )
    async with server.session() as session:
        rows, characters = (await session.execute(query)).one()
    return int(rows), int(characters)


async def test_a_charger_flooding_frames_that_are_not_calls_gets_a_bounded_log_and_others_are_served(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    settings = server.app_runtime.settings
    attacker_id, neighbour_id = await server.add_charger(), await server.add_charger()
    filler = "z" * 20_000
    async with (
        raw_charger(server, attacker_id) as attacker,
        connect_charger(server.ws_url, neighbour_id, CHARGER_PASSWORD) as neighbour,
    ):
        started = time.monotonic()

        async def flood() -> None:
            for index in range(1_000):
                await attacker.send(f'[3, "never-asked-{index}", {{"data": "{filler}"}}]')
                if index % 5 == 0:
                    await attacker.send(f"not json {filler}")

        async def drain_answers() -> None:  # the attacker's socket stays readable while it floods
            await answer_to(attacker, "alive-check", within=120)

        reading = asyncio.create_task(drain_answers())
        flooding = asyncio.create_task(flood())
        while not flooding.done():
            assert (await asyncio.wait_for(neighbour.heartbeat(), 10)).current_time
            await asyncio.sleep(0.05)
        await flooding
        await attacker.send('[2, "alive-check", "Heartbeat", {}]')
        await reading
        elapsed = time.monotonic() - started
    rows, characters = await logged_frames(server, attacker_id)
    # 1,200 frames of 20 kB were sent (24 MB): the log holds what the budget let through, truncated.
    assert rows <= 2 * (settings.ocpp_message_burst + settings.ocpp_message_rate * elapsed) + 10
    assert characters <= rows * settings.message_log_max_frame_bytes
    events = (
        await http.get("/api/admin/security_events", params={"charge_point_id": attacker_id}, headers=admin)
    ).json()
    # Refusals are counted: a row when a period's first one comes, and one more with its repeats when the
    # period ends (periods run from the node's start, so the flood may span a boundary or, when slow, more).
    periods = int(elapsed / settings.security_event_period) + 2
    assert {event["kind"] for event in events} == {"ocpp_message_budget_exceeded"}
    assert 1 <= len(events) <= 2 * periods


async def test_a_large_frame_is_logged_truncated_with_its_size(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    limit = server.app_runtime.settings.message_log_max_frame_bytes
    charge_point_id = await server.add_charger()
    frame = json.dumps([2, "large-1", "DataTransfer", {"vendorId": "acme", "data": "é" + "d" * 3 * limit}])
    async with raw_charger(server, charge_point_id) as charger:
        await charger.send(frame)
        assert (await answer_to(charger, "large-1"))[0] == 3
        await charger.send(json.dumps([2, "small-1", "DataTransfer", {"vendorId": "acme", "data": "é"}]))
        await answer_to(charger, "small-1")
    await server.flush_message_log()
    log = (await http.get(f"/api/admin/chargers/{charge_point_id}/messages", headers=admin)).json()
    large = next(row for row in log if row["unique_id"] == "large-1" and row["direction"] == "in")
    assert large["frame_bytes"] == len(frame.encode())
    assert len(large["frame"].encode()) <= limit and frame.startswith(large["frame"])
    assert len(large["frame"]) >= limit - 2
    small = next(row for row in log if row["unique_id"] == "small-1" and row["direction"] == "in")
    assert small["frame_bytes"] == len(small["frame"].encode()) and json.loads(small["frame"])[1] == "small-1"


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def retention_server(empty_database: str) -> AsyncIterator[RunningServer]:
    """A node whose retention runs often and keeps few rows per charger."""
    settings = settings_for(
        empty_database,
        message_log_retention_days=30,
        message_log_rows_per_charger=6,
        message_log_retention_interval=0.2,
    )
    handle, task, running = await start_server(settings)
    yield running
    await stop_server(handle, task)


async def wait_until_logged(server: RunningServer, charge_point_id: str, *, rows: int) -> None:
    async def holds_rows() -> bool:
        return (await logged_frames(server, charge_point_id))[0] == rows

    await wait_for_true(holds_rows)


async def test_retention_keeps_the_newest_rows_of_each_charger(retention_server: RunningServer) -> None:
    charge_point_id = await retention_server.add_charger()
    async with raw_charger(retention_server, charge_point_id) as charger:
        for index in range(20):
            await charger.send(f'[2, "hb-{index}", "Heartbeat", {{}}]')
            await answer_to(charger, f"hb-{index}")
    await wait_until_logged(retention_server, charge_point_id, rows=6)
    async with retention_server.session() as session:
        kept = (
            await session.scalars(select(OcppMessage.unique_id).where(OcppMessage.charge_point_id == charge_point_id))
        ).all()
    assert sorted(kept) == sorted(f"hb-{index}" for index in (17, 17, 18, 18, 19, 19))


async def test_retention_deletes_frames_older_than_its_age(retention_server: RunningServer) -> None:
    now = utc_now()
    async with retention_server.session() as session:  # frames of a charger since removed, as an old log holds
        for days in (31, 40, 400):
            session.add(
                OcppMessage(
                    charge_point_id="CP-long-gone", direction="in", frame="[2]", created_at=now - timedelta(days=days)
                )
            )
        session.add(OcppMessage(charge_point_id="CP-long-gone", direction="in", frame="[3]", created_at=now))
        await session.commit()
    await wait_until_logged(retention_server, "CP-long-gone", rows=1)
    async with retention_server.session() as session:
        assert (
            await session.scalars(select(OcppMessage.frame).where(OcppMessage.charge_point_id == "CP-long-gone"))
        ).all() == ["[3]"]
