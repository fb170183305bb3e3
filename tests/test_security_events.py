"""The security whitepaper's SecurityEventNotification and ExtendedTriggerMessage, with a real OCPP client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError

from csms.bus import Message, event_subject
from tests.conftest import RunningServer
from tests.operating import admin, ocpp_call, online_charger, payloads_received

__all__ = ["admin"]


async def charger_events(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str
) -> Any:
    await server.app_runtime.writer.flush()
    params = {"charge_point_id": charge_point_id}
    return (await http.get("/api/admin/security_events", params=params, headers=admin)).json()


async def next_security_event(subscription: Any, charge_point_id: str) -> Message:
    async with asyncio.timeout(5):
        async for _, message in subscription:
            if message["charge_point_id"] == charge_point_id:
                return dict(message)
    raise AssertionError("no security_event was published")


async def test_a_security_event_is_stored_with_its_type_tech_info_and_timestamp(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await charger.security_event(
            "InvalidCentralSystemCertificate", tech_info="chain too short", timestamp="2026-03-01T10:00:00Z"
        )
    events = await charger_events(server, http, admin, charger.id)
    assert [(e["source"], e["kind"], e["detail"], e["created_at"][:19]) for e in events] == [
        ("charger", "InvalidCentralSystemCertificate", "chain too short", "2026-03-01T10:00:00")
    ]


@pytest.mark.parametrize(
    ("event_type", "is_critical"), [("TamperDetectionActivated", True), ("InvalidMessages", False)]
)
async def test_a_security_event_is_published_live_flagged_critical_per_the_whitepaper(
    server: RunningServer, event_type: str, is_critical: bool
) -> None:
    subscription = await server.app_runtime.bus.subscribe(event_subject("security_event"))
    try:
        async with online_charger(server) as charger:
            await charger.security_event(event_type)
            published = await next_security_event(subscription, charger.id)
    finally:
        await subscription.close()
    assert (published["type"], published["critical"]) == (event_type, is_critical)


async def test_a_security_event_breaking_the_schema_is_refused(server: RunningServer) -> None:
    async with online_charger(server) as charger:
        with pytest.raises(OCPPError) as refused:
            await charger.security_event("x" * 51)
    assert refused.value.code == "TypeConstraintViolation"


async def test_extended_trigger_message_reaches_the_charger_through_the_generic_endpoint(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        payload = {"requestedMessage": "SignChargePointCertificate"}
        response = await ocpp_call(http, admin, charger.id, "ExtendedTriggerMessage", payload)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "Accepted"}
        assert payloads_received(charger, "ExtendedTriggerMessage") == [payload]


async def test_an_extended_trigger_message_outside_its_schema_never_leaves(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        response = await ocpp_call(http, admin, charger.id, "ExtendedTriggerMessage", {"requestedMessage": "Boot"})
        assert response.status_code == 422, response.text
        assert payloads_received(charger, "ExtendedTriggerMessage") == []
