"""The BatchWriter on each backend: each waiter is answered once its rows are committed, and a bad
write fails alone. On SQLite its batches run in a thread of their own, which closing stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.db.batch_writer import BatchWriter
from csms.db.engine import create_engine
from csms.db.migrate import upgrade_to_head
from csms.db.models import OcppMessage
from csms.services.message_log import _INSERT_FRAME
from tests.conftest import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


def frame_row(charge_point_id: str, frame: str | None) -> dict[str, object]:
    return {
        "charge_point_id": charge_point_id,
        "direction": "in",
        "frame": frame,
        "message_type": 2,
        "unique_id": "1",
        "action": "Heartbeat",
        "created_at": datetime.now(UTC),
    }


async def frames_of(engine: AsyncEngine, charge_point_id: str) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).where(OcppMessage.charge_point_id == charge_point_id)
        return int((await connection.execute(query)).scalar_one())


async def test_each_write_is_committed_before_its_caller_goes_on(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine)
    writer.start()

    async def write_and_read(index: int) -> int:
        await writer.write((_INSERT_FRAME, [frame_row(f"CP{index}", "[2]"), frame_row(f"CP{index}", "[3]")]))
        return await frames_of(engine, f"CP{index}")  # another connection sees both rows at once

    try:
        assert await asyncio.gather(*(write_and_read(index) for index in range(50))) == [2] * 50
    finally:
        await writer.close()


async def test_a_bad_write_fails_alone_and_its_neighbours_are_kept(engine: AsyncEngine) -> None:
    writer = BatchWriter(engine)
    writer.start()
    writes = [writer.write((_INSERT_FRAME, [frame_row("NEIGHBOUR", f"[{index}]")])) for index in range(20)]
    writes.insert(10, writer.write((_INSERT_FRAME, [frame_row("BAD", None)])))  # frame is NOT NULL
    try:
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(outcomes.pop(10), IntegrityError)
    assert outcomes == [None] * 20
    assert (await frames_of(engine, "NEIGHBOUR"), await frames_of(engine, "BAD")) == (20, 0)


async def test_a_background_write_the_database_refuses_costs_no_other_background_write(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    refused: list[str] = []
    writer = BatchWriter(engine, on_refused=refused.append)
    writer.start()
    # A lone surrogate cannot be encoded as UTF-8 for either database; PostgreSQL refuses a NUL as well.
    poisons = ["\ud800", "nul\x00"] if engine.dialect.name == "postgresql" else ["\ud800"]
    for index in range(30):
        writer.write_soon((_INSERT_FRAME, [frame_row("NEIGHBOUR", f"[{index}]")]))
        if index in (7, 21):
            for poison in poisons:
                writer.write_soon((_INSERT_FRAME, [frame_row("BAD", poison)]))
    waited = writer.write((_INSERT_FRAME, [frame_row("WAITED", "[2]")]))
    try:
        await waited
        await writer.flush()
    finally:
        await writer.close()
    assert (await frames_of(engine, "NEIGHBOUR"), await frames_of(engine, "WAITED")) == (30, 1)
    assert await frames_of(engine, "BAD") == 0
    assert refused == ["ocpp_messages"] * 2 * len(poisons)
    logged = [record.getMessage() for record in caplog.records if record.name == "csms.db.batch_writer"]
    assert len(logged) == len(refused)
    assert all(line.startswith("the database refused a background write to ocpp_messages") for line in logged)


async def test_closing_the_writer_stops_its_thread(engine: AsyncEngine) -> None:
    running_before = set(threading.enumerate())  # other tests' servers have writers of their own
    writer = BatchWriter(engine)
    writer.start()
    writer.write_soon((_INSERT_FRAME, [frame_row("SOON", "[2]")]))
    await writer.flush()
    started = [
        thread for thread in set(threading.enumerate()) - running_before if thread.name.startswith("csms-sqlite")
    ]
    assert len(started) == (1 if engine.dialect.name == "sqlite" else 0)
    writer.write_soon((_INSERT_FRAME, [frame_row("SOON", "[3]")]))
    await writer.close()  # what was handed over before closing is written
    assert await frames_of(engine, "SOON") == 2
    assert not [thread for thread in started if thread.is_alive()]


def test_a_statement_the_writer_cannot_run_for_many_rows_is_refused_when_registered() -> None:
    """An IN list of values cannot run as one statement for many rows: two such writes in one batch failed
    the batch, which the writer then took apart write by write, halving a node's OCPP throughput unseen."""
    from sqlalchemy import delete

    from csms.db.models import Transaction
    from csms.db.write_journal import journaled

    with pytest.raises(ValueError, match="IN list"):
        journaled("test.in_list", delete(Transaction).where(Transaction.closed_by.in_(("superseded", "staff"))))
