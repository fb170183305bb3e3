"""The load side of scale_out.py: lean chargers spread over the nodes, held, then sending back to back.

Charger i connects to node i % nodes. A phase runs every active charger in a loop of one call at a time
for `warmup + duration` seconds; answers are booked per node from the end of the warm-up on, so the
figures cover the steady state only. The optional `during` coroutine (wrk driving start_charging) runs
over the measured window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.protocol import State

from lean_charger import OCPP16, CallFailed, LeanCharger, Step, connect_charger, send_step
from load_stats import LatencyBook, merge_books

FAILURES = (CallFailed, TimeoutError, OSError, WebSocketException)


@dataclass
class Fleet:
    """The connected chargers, each with the index of the node it is connected to."""

    chargers: list[LeanCharger] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)

    def open_count(self) -> int:
        return sum(1 for charger in self.chargers if charger.connection.state is State.OPEN)

    def close(self) -> None:
        for charger in self.chargers:
            charger.connection.transport.abort()


@dataclass(frozen=True)
class PhaseResult:
    seconds: float
    books: list[LatencyBook]  # one per node
    warmup_errors: int

    def per_node_rates(self) -> list[float]:
        return [round(book.answered / self.seconds, 1) for book in self.books]

    def merged(self) -> LatencyBook:
        return merge_books(self.books)


# -- connect and hold -----------------------------------------------------------------------------


async def _connect_and_boot(*, port: int, charge_point_id: str, password: str, book: LatencyBook) -> LeanCharger | None:
    try:
        charger = await connect_charger(
            port=port, charge_point_id=charge_point_id, password=password, book=book, compression=None
        )
    except FAILURES as error:
        book.record_error(f"connect: {type(error).__name__}")
        return None
    try:
        for step in OCPP16.boot_sequence():
            await send_step(charger, step)
    except FAILURES as error:
        book.record_error(f"boot: {type(error).__name__}")
    return charger


async def connect_fleet(*, ports: list[int], ids: list[str], password: str, batch: int, book: LatencyBook) -> Fleet:
    """Connect and boot every charger, `batch` at a time, charger i to node i % len(ports)."""
    fleet = Fleet()
    for first in range(0, len(ids), batch):
        indexes = range(first, min(first + batch, len(ids)))
        connected = await asyncio.gather(
            *(
                _connect_and_boot(port=ports[i % len(ports)], charge_point_id=ids[i], password=password, book=book)
                for i in indexes
            )
        )
        for index, charger in zip(indexes, connected, strict=True):
            if charger is not None:
                fleet.chargers.append(charger)
                fleet.nodes.append(index % len(ports))
    return fleet


# -- steady load ----------------------------------------------------------------------------------


async def _loop_step(charger: LeanCharger, step: Step, deadline: float) -> None:
    try:
        while time.perf_counter() < deadline:
            await send_step(charger, step)
    except FAILURES as error:
        # A charger whose call failed may get a late answer; it stops rather than mismatch ids.
        charger.book.record_error(f"{getattr(step, '__name__', 'step')}: {type(error).__name__}")


async def run_phase(
    fleet: Fleet,
    *,
    active: int,
    step: Step,
    warmup: float,
    duration: float,
    during: Callable[[], Awaitable[Any]] | None = None,
    on_measure: Callable[[], Awaitable[None]] | None = None,
) -> tuple[PhaseResult, Any]:
    """`active` chargers send `step` back to back; booked per node after the warm-up."""
    node_count = max(fleet.nodes, default=0) + 1
    books = [LatencyBook() for _ in range(node_count)]
    warmup_book = LatencyBook()
    chosen = list(zip(fleet.chargers[:active], fleet.nodes[:active], strict=True))
    for charger, _node in chosen:
        charger.book = warmup_book
    deadline = time.perf_counter() + warmup + duration
    loops = asyncio.gather(*(_loop_step(charger, step, deadline) for charger, _node in chosen))
    await asyncio.sleep(warmup)
    for charger, node in chosen:
        charger.book = books[node]
    if on_measure is not None:
        await on_measure()
    started = time.perf_counter()
    extra = await during() if during is not None else None
    await loops
    seconds = time.perf_counter() - started
    return PhaseResult(seconds=seconds, books=books, warmup_errors=warmup_book.error_count), extra


async def start_transactions(fleet: Fleet, active: int) -> int:
    """Each active charger starts a transaction, so its MeterValues carry a transactionId; failures."""
    book = LatencyBook()
    for charger in fleet.chargers[:active]:
        charger.book = book

    async def start(charger: LeanCharger) -> None:
        try:
            await send_step(charger, OCPP16.start_transaction)
        except FAILURES as error:
            book.record_error(f"start: {type(error).__name__}")

    await asyncio.gather(*(start(charger) for charger in fleet.chargers[:active]))
    return book.error_count


PHASE_STEPS: dict[str, Step] = {"heartbeat": OCPP16.heartbeat, "meter_values": OCPP16.meter_values}
