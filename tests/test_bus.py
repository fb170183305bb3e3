"""The bus contract: the in-process bus and the NATS bus behave the same."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from csms.bus import Bus, Message, NoResponders, RequestTimeout, subject_matches, subject_token
from csms.bus.memory import MemoryBus
from csms.bus.nats import NatsBus
from csms.config import Settings
from tests.conftest import NATS_URL, dependency_missing


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    # Under a namespace, as test nodes are: the subjects the contract names are what subscribers get back.
    implementation: Bus = MemoryBus() if request.param == "memory" else NatsBus(NATS_URL, namespace=namespace())
    try:
        await implementation.start()
    except Exception as error:
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    yield implementation
    await implementation.close()


def unique(prefix: str) -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


def namespace() -> str:
    return f"deployment-{secrets.token_hex(4)}"


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


@pytest.mark.nats
async def test_deployments_under_two_namespaces_on_one_nats_server_do_not_hear_each_other() -> None:
    """Production and staging on one NATS server, with the same charger: neither hears the other's events,
    and a command for the charger reaches only its own deployment's node."""
    production, staging = namespace(), namespace()
    production_node = NatsBus(NATS_URL, name="production", namespace=production)
    staging_node, other_staging_node = (NatsBus(NATS_URL, name=name, namespace=staging) for name in ("a", "b"))
    nodes = [production_node, staging_node, other_staging_node]
    try:
        for node in nodes:
            await node.start()
    except Exception as error:
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    try:
        heard_in_production = await production_node.subscribe("csms.events.>")
        heard_in_staging = await staging_node.subscribe("csms.events.>")
        await staging_node.serve("csms.commands.CP-1.socket", _echo)
        await other_staging_node.publish("csms.events.charger_connected", {"charge_point_id": "CP-1"})
        assert await next_event(heard_in_staging) == ("csms.events.charger_connected", {"charge_point_id": "CP-1"})
        with pytest.raises(TimeoutError):
            await next_event(heard_in_production, within=0.5)
        with pytest.raises(NoResponders):
            await production_node.request("csms.commands.CP-1.socket", {"action": "Reset"}, within=5)
        answer = await other_staging_node.request("csms.commands.CP-1.socket", {"action": "Reset"}, within=5)
        assert answer == {"action": "Reset"}
        assert [await node.is_healthy() for node in nodes] == [True, True, True]
    finally:
        for node in nodes:
            await node.close()


@pytest.mark.parametrize("bad", ["prod.eu", "prod eu", "prod>", "*", ""])
def test_a_namespace_that_is_not_one_subject_token_is_refused_at_start(bad: str) -> None:
    """A dot would make the namespace two tokens, a wildcard would hear every deployment."""
    with pytest.raises(ValidationError, match="bus_namespace"):
        Settings(bus_namespace=bad)


async def _echo(message: Message) -> Message:
    return message


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
