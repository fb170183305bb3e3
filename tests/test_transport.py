"""The lean WebSocket protocol's own queue and flag keep asyncio.Queue's and asyncio.Event's behaviour."""

from __future__ import annotations

import asyncio

from csms.ocpp.transport import Flag, ReceiveQueue


async def test_receive_queue_hands_items_out_first_in_first_out() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("connect")
    queue.put_nowait("receive")
    assert await waiting == "connect"
    assert not queue.empty()
    assert await queue.get() == "receive"
    assert queue.empty()


async def test_an_item_woken_for_a_cancelled_getter_goes_to_the_next_getter() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    first, second = asyncio.create_task(queue.get()), asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("disconnect")
    first.cancel()
    assert await asyncio.wait_for(second, 1) == "disconnect"
    assert first.cancelled()


async def test_flag_holds_waiters_until_set_and_lets_them_through_while_set() -> None:
    flag = Flag(is_set=True)
    assert await asyncio.wait_for(flag.wait(), 1)
    flag.clear()
    waiting = asyncio.create_task(flag.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    flag.set()
    assert await asyncio.wait_for(waiting, 1)
    assert flag.is_set()
