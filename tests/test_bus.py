"""The bus contract: the in-process bus and the NATS bus behave the same."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from csms.bus import Bus, Message, NoResponders, RequestTimeout, subject_matches, subject_token
from csms.bus.memory import MemoryBus
from csms.bus.nats import NatsBus
from tests.conftest import NATS_URL, dependency_missing


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    implementation: Bus = MemoryBus() if request.param == "memory" else NatsBus(NATS_URL)
    try:
        await implementation.start()
    except Exception as error:
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    yield implementation
    await implementation.close()


def unique(prefix: str) -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


async def next_event(subscription: object, within: float = 10.0) -> tuple[str, Message]:
    async with asyncio.timeout(within):
        async for item in subscription:  # type: ignore[attr-defined]
            return item  # type: ignore[no-any-return]
    raise AssertionError("subscription ended")


async def test_subscribers_get_published_events_matching_their_wildcards(bus: Bus) -> None:
    root = unique("test")
    everything = await bus.subscribe(f"{root}.>")
    one_level = await bus.subscribe(f"{root}.status.*")
    await bus.publish(f"{root}.status.CP1", {"status": "Charging"})
    await bus.publish(f"{root}.meter.CP1.extra", {"wh": 5})
    assert await next_event(everything) == (f"{root}.status.CP1", {"status": "Charging"})
    assert await next_event(everything) == (f"{root}.meter.CP1.extra", {"wh": 5})
    assert await next_event(one_level) == (f"{root}.status.CP1", {"status": "Charging"})
    with pytest.raises(TimeoutError):
        await next_event(one_level, within=0.2)
    await everything.close()
    await one_level.close()


@pytest.mark.nats
async def test_an_event_published_on_another_node_right_after_subscribe_returns_arrives() -> None:
    """Two NATS connections, as two nodes have: the subscription is on the server when subscribe returns."""
    here, there = NatsBus(NATS_URL, name="here"), NatsBus(NATS_URL, name="there")
    try:
        await here.start()
        await there.start()
    except Exception as error:
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    try:
        subject = unique("handover")
        subscription = await here.subscribe(subject)
        await there.publish(subject, {"n": 1})
        assert await next_event(subscription) == (subject, {"n": 1})
        await subscription.close()
    finally:
        await here.close()
        await there.close()


async def test_publishing_with_nobody_listening_is_fine(bus: Bus) -> None:
    await bus.publish(unique("nobody"), {"x": 1})


async def test_request_reaches_the_responder_and_returns_its_answer(bus: Bus) -> None:
    subject = unique("cmd")

    async def double(message: Message) -> Message:
        return {"value": message["value"] * 2}

    handle = await bus.serve(subject, double)
    assert await bus.request(subject, {"value": 21}, within=2) == {"value": 42}
    await handle.close()


async def test_request_without_a_responder_fails_at_once(bus: Bus) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(NoResponders):
        await bus.request(unique("nobody-home"), {}, within=5)
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_closed_responder_no_longer_answers(bus: Bus) -> None:
    subject = unique("cmd")

    async def echo(message: Message) -> Message:
        return message

    handle = await bus.serve(subject, echo)
    await handle.close()
    with pytest.raises(NoResponders):
        await bus.request(subject, {}, within=2)


async def test_slow_responder_times_out(bus: Bus) -> None:
    subject = unique("slow")

    async def slow(message: Message) -> Message:
        await asyncio.sleep(1)
        return message

    handle = await bus.serve(subject, slow)
    with pytest.raises(RequestTimeout):
        await bus.request(subject, {}, within=0.2)
    await handle.close()


async def test_bus_reports_health(bus: Bus) -> None:
    assert await bus.is_healthy()


def test_charge_point_ids_become_single_subject_tokens() -> None:
    assert subject_token("CP-001_a") == "CP-001_a"
    assert subject_token("site.7") == "site~2E7"
    assert subject_token("a*b>c") == "a~2Ab~3Ec"
    assert subject_matches("csms.events.>", "csms.events.meter_values")
    assert not subject_matches("csms.events.*", "csms.events.a.b")
    assert not subject_matches("csms.events.>", "csms.events")
