"""The security whitepaper's SecurityEventNotification and ExtendedTriggerMessage, with a real OCPP client."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError

from csms.bus import Message, event_subject
from csms.services.clock import utc_now
from csms.services.security_log import SecurityEventRetention
from tests.conftest import RunningServer, bearer, client_from, create_account_with_role, login_as, node_with
from tests.operating import admin, connect_status, ocpp_call, online_charger, payloads_received
from tests.support.waiting import wait_for_true

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


async def test_security_events_are_filtered_by_kind_and_paged_by_id(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        for kind in ("InvalidMessages", "TamperDetectionActivated", "InvalidMessages"):
            await charger.security_event(kind)
    await server.app_runtime.writer.flush()
    params = {"charge_point_id": charger.id, "kind": "InvalidMessages", "limit": 1}
    newest = (await http.get("/api/admin/security_events", params=params, headers=admin)).json()
    older = {**params, "before_id": newest[0]["id"]}
    oldest = (await http.get("/api/admin/security_events", params=older, headers=admin)).json()
    assert [event["kind"] for event in newest + oldest] == ["InvalidMessages"] * 2
    assert newest[0]["id"] > oldest[0]["id"]
    last = {**params, "before_id": oldest[0]["id"]}
    assert (await http.get("/api/admin/security_events", params=last, headers=admin)).json() == []


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


async def security_event_kinds(node: RunningServer, client: httpx.AsyncClient, charge_point_id: str) -> list[str]:
    username, _ = await create_account_with_role(node, "admin")
    staff = bearer(await login_as(client, username))
    return [event["kind"] for event in await charger_events(node, client, staff, charge_point_id)]


async def test_retention_judges_security_events_by_when_csms_recorded_them(tmp_path: Path) -> None:
    async with node_with(tmp_path) as node, client_from(node) as client:
        async with online_charger(node) as charger:  # a charger whose clock is decades behind
            charge_point_id = charger.id
            await charger.security_event("InvalidFirmwareSignature", timestamp="2001-01-01T00:00:00Z")
        assert await connect_status(node, charge_point_id, "wrong-password-here") == 401
        await node.app_runtime.writer.flush()
        recorded = utc_now()

        def retention_on(day: datetime) -> SecurityEventRetention:
            return SecurityEventRetention(node.app_runtime.writer, clock=lambda: day, max_age=timedelta(days=365))

        assert await retention_on(recorded + timedelta(days=364)).apply() == 0
        assert sorted(await security_event_kinds(node, client, charge_point_id)) == [
            "InvalidFirmwareSignature",
            "charger_auth_refused",
        ]
        assert await retention_on(recorded + timedelta(days=366)).apply() == 2
        assert await security_event_kinds(node, client, charge_point_id) == []


async def test_old_security_events_are_deleted_in_the_background(tmp_path: Path) -> None:
    retention = {"security_event_retention_days": 1 / 86_400, "security_event_retention_interval": 0.1}
    async with node_with(tmp_path, **retention) as node, client_from(node) as client:
        charge_point_id = await node.add_charger()
        assert await connect_status(node, charge_point_id, "wrong-password-here") == 401

        async def all_deleted() -> bool:
            return await security_event_kinds(node, client, charge_point_id) == []

        await wait_for_true(all_deleted)
