"""Small tables kept in memory until a change on any node says they are stale."""

from __future__ import annotations

import asyncio

from csms.bus.memory import MemoryBus
from csms.services.shared_cache import SharedTable


async def test_a_change_on_one_node_makes_every_node_read_again() -> None:
    bus = MemoryBus()  # the same bus two nodes would share through NATS
    table = {"version": 1}
    reads = []

    async def read() -> int:
        reads.append(table["version"])
        return table["version"]

    here, there = SharedTable("tariffs", bus, read), SharedTable("tariffs", bus, read)
    other = SharedTable("webhooks", bus, read)
    for cache in (here, there, other):
        await cache.start()
    assert [await here.get(), await here.get(), await there.get(), await other.get()] == [1, 1, 1, 1]
    assert len(reads) == 3  # once per node and table, then from memory

    table["version"] = 2
    await here.changed()
    await asyncio.sleep(0.01)  # the announcement travels over the bus
    assert [await here.get(), await there.get(), await other.get()] == [2, 2, 1]
    for cache in (here, there, other):
        await cache.close()


async def test_a_change_during_a_read_is_not_overwritten_by_that_read() -> None:
    bus = MemoryBus()
    release = asyncio.Event()
    values = iter([1, 2])

    async def slow_read() -> int:
        await release.wait()
        return next(values)

    cache = SharedTable("tariffs", bus, slow_read)
    first = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    await cache.changed()
    release.set()
    assert await first == 1
    assert await cache.get() == 2  # the stale read was not kept
