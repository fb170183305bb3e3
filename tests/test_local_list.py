"""Local authorization lists built from csms's idTags: Full and Differential updates, the version per
charger, and changes pushed by csms itself when a tag is blocked, expires or is unblocked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from csms.simulator.charger import ChargerBehaviour, SimulatedCharger
from tests.conftest import RunningServer
from tests.operating import admin, new_tag, ocpp_call, online_charger, payloads_received, send_list
from tests.support.waiting import poll

__all__ = ["admin"]


async def nth_local_list(charger: SimulatedCharger, count: int) -> dict[str, Any]:
    async def sent() -> list[dict[str, Any]]:
        return payloads_received(charger, "SendLocalList")

    return (await poll(sent, until=lambda lists: len(lists) >= count))[count - 1]


async def test_a_full_update_carries_every_idtag_with_its_status(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    accepted = await new_tag(http, admin, parent_id_tag="FLEET")
    blocked = await new_tag(http, admin, status="Blocked")
    async with online_charger(server) as charger:
        answer = await send_list(http, admin, charger.id, "Full")
        sent = await nth_local_list(charger, 1)
    entries = {entry["idTag"]: entry.get("idTagInfo") for entry in sent["localAuthorizationList"]}
    assert (sent["listVersion"], sent["updateType"], answer["status"]) == (1, "Full", "Accepted")
    assert entries[accepted] == {"status": "Accepted", "parentIdTag": "FLEET"}
    assert entries[blocked] == {"status": "Blocked"}
    held = (await http.get(f"/api/admin/chargers/{charger.id}/local_list", headers=admin)).json()
    assert held["list_version"] == 1 and {accepted, blocked} <= {entry["id_tag"] for entry in held["entries"]}


async def test_blocking_and_unblocking_a_tag_is_pushed_as_differential_updates(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    id_tag = await new_tag(http, admin)
    async with online_charger(server) as charger:
        await send_list(http, admin, charger.id, "Full")
        await http.patch(f"/api/admin/id_tags/{id_tag}", json={"status": "Blocked"}, headers=admin)
        blocked = await nth_local_list(charger, 2)
        await http.patch(f"/api/admin/id_tags/{id_tag}", json={"status": "Accepted"}, headers=admin)
        unblocked = await nth_local_list(charger, 3)
    assert blocked == {
        "listVersion": 2,
        "updateType": "Differential",
        "localAuthorizationList": [{"idTag": id_tag, "idTagInfo": {"status": "Blocked"}}],
    }
    assert unblocked["listVersion"] == 3
    assert unblocked["localAuthorizationList"] == [{"idTag": id_tag, "idTagInfo": {"status": "Accepted"}}]


async def test_a_tag_that_expires_is_pushed_as_expired(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    expiry = datetime.now(UTC) + timedelta(hours=1)
    id_tag = await new_tag(http, admin, expiry_date=expiry.isoformat())
    async with online_charger(server) as charger:
        await send_list(http, admin, charger.id, "Full")
        # what the periodic sync does, once the expiry has passed
        await server.app_runtime.local_lists.push_changes(now=expiry + timedelta(minutes=1))
        expired = await nth_local_list(charger, 2)
    assert [entry["idTag"] for entry in expired["localAuthorizationList"]] == [id_tag]
    assert expired["localAuthorizationList"][0]["idTagInfo"]["status"] == "Expired"


async def test_a_differential_update_with_nothing_changed_sends_an_empty_list(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await send_list(http, admin, charger.id, "Full")
        answer = await send_list(http, admin, charger.id, "Differential")
        sent = await nth_local_list(charger, 2)
    assert (answer["list_version"], answer["entries"]) == (2, 0)
    assert sent == {"listVersion": 2, "updateType": "Differential", "localAuthorizationList": []}


async def test_the_version_a_charger_reports_is_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        response = await ocpp_call(http, admin, charger.id, "GetLocalListVersion", {})
    held = (await http.get(f"/api/admin/chargers/{charger.id}/local_list", headers=admin)).json()
    assert response.json() == {"listVersion": 0} and held["reported_version"] == 0


async def test_an_operators_update_during_a_push_gets_the_next_version_not_the_same(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    id_tag = await new_tag(http, admin)
    answering = asyncio.Event()
    answering.set()
    async with online_charger(server, ChargerBehaviour(answer_after=answering)) as charger:
        await send_list(http, admin, charger.id, "Full")
        answering.clear()  # the charger holds its answers: csms's push stays in flight
        await http.patch(f"/api/admin/id_tags/{id_tag}", json={"status": "Blocked"}, headers=admin)
        await nth_local_list(charger, 2)
        operator = asyncio.create_task(send_list(http, admin, charger.id, "Differential"))
        await asyncio.sleep(0.5)  # room for the operator's update to be numbered while the push is unanswered
        answering.set()
        await operator
        versions = [sent["listVersion"] for sent in payloads_received(charger, "SendLocalList")]
    assert versions == [1, 2, 3]
