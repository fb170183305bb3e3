"""Transactions a charger never closed: a refused start locks no tag out, a connector shown free ends
what is open on it, staff close the rest, and a sweep flags the silent ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from csms.services.clock import utc_now
from tests.conftest import (
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    node_with,
)
from tests.operating import admin, online_charger
from tests.support.charging_records import iso, new_tag, record, wait_for_record

__all__ = ["admin"]

MINUTE = timedelta(minutes=1)


def is_closed(transaction: dict[str, object]) -> bool:
    return transaction["stop_timestamp"] is not None


async def test_a_start_answered_concurrent_tx_locks_no_tag_out(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = await new_tag(server)
    async with online_charger(server, connectors=2) as charger:
        first = await charger.start_transaction(1, tag, meter_start=0)
        refused = await charger.start_transaction(2, tag, meter_start=0)
        assert (first.id_tag_info["status"], refused.id_tag_info["status"]) == ("Accepted", "ConcurrentTx")
        await charger.stop_transaction(first.transaction_id, 1000)
        # The charger never stops the refused one (it should, with reason DeAuthorized).
        again = await charger.start_transaction(1, tag, meter_start=1000)
        assert again.id_tag_info["status"] == "Accepted"
        assert (await charger.authorize(tag)).id_tag_info["status"] == "ConcurrentTx"  # the new one runs
    orphan = await record(http, admin, refused.transaction_id)
    assert (orphan["id_tag_status"], orphan["is_active"]) == ("ConcurrentTx", False)


async def test_a_refused_start_is_not_stopped_remotely_but_staff_close_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = await new_tag(server)
    async with online_charger(server, connectors=2) as charger:
        await charger.start_transaction(1, tag, meter_start=0)
        refused = await charger.start_transaction(2, tag, meter_start=0)
        stop = await http.post("/api/stop_charging", json={"transaction_id": refused.transaction_id}, headers=admin)
        assert stop.status_code == 409 and "ConcurrentTx" in stop.json()["detail"]
        closed = await http.post(f"/api/admin/transactions/{refused.transaction_id}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["closed_by"], closed.json()["meter_stop"], closed.json()["energy_wh"]) == ("staff", 0, 0)


async def test_a_new_start_on_a_connector_supersedes_the_transaction_left_open_there(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag, started_at = await new_tag(server), utc_now() - 10 * MINUTE
    async with online_charger(server) as charger:
        lost = await charger.start_transaction(1, tag, meter_start=1000, timestamp=iso(started_at))
        await charger.meter_values(1, lost.transaction_id, 1500, timestamp=iso(started_at + MINUTE))
        # Its StopTransaction never arrives; the same card starts again on the same connector.
        again = await charger.start_transaction(1, tag, meter_start=1600)
        assert again.id_tag_info["status"] == "Accepted"
        superseded = await wait_for_record(http, admin, lost.transaction_id, is_closed)
    assert superseded["closed_by"] == "superseded"
    assert (superseded["meter_stop"], superseded["energy_wh"], superseded["is_active"]) == (1500, 500, False)
    assert superseded["stop_timestamp"].startswith(iso(started_at + MINUTE)[:19])
    assert (await record(http, admin, again.transaction_id))["is_active"] is True


async def test_status_available_ends_only_the_transaction_open_on_its_connector(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        on_one = await charger.start_transaction(1, await new_tag(server), meter_start=0)
        on_two = await charger.start_transaction(2, await new_tag(server), meter_start=0)
        await charger.meter_values(1, on_one.transaction_id, 700)
        await charger.status(1, "Available")
        ended = await wait_for_record(http, admin, on_one.transaction_id, is_closed)
        assert (ended["closed_by"], ended["meter_stop"]) == ("superseded", 700)
        assert (await record(http, admin, on_two.transaction_id))["is_active"] is True


async def test_a_boot_ends_every_transaction_of_the_charger_left_open(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server, connectors=2) as charger:
        first = await charger.start_transaction(1, await new_tag(server), meter_start=0)
        second = await charger.start_transaction(2, await new_tag(server), meter_start=50)
        await charger.boot()
        for started in (first, second):
            ended = await wait_for_record(http, admin, started.transaction_id, is_closed)
            assert ended["closed_by"] == "superseded"
        # A start after the boot is a new session, which the boot does not end.
        after = await charger.start_transaction(1, await new_tag(server), meter_start=100)
        assert (await record(http, admin, after.transaction_id))["is_active"] is True


async def test_the_charger_s_late_stop_corrects_a_superseded_record(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        started = await charger.start_transaction(1, await new_tag(server), meter_start=0)
        await charger.meter_values(1, started.transaction_id, 400)
        await charger.status(1, "Available")
        await wait_for_record(http, admin, started.transaction_id, is_closed)
        await charger.stop_transaction(started.transaction_id, 900, reason="EVDisconnected")
    corrected = await record(http, admin, started.transaction_id)
    assert (corrected["closed_by"], corrected["meter_stop"], corrected["stop_reason"]) == (
        "charger",
        900,
        "EVDisconnected",
    )


async def test_staff_close_a_transaction_and_the_charger_s_late_stop_still_corrects_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        started = await charger.start_transaction(1, await new_tag(server), meter_start=100)
        await charger.meter_values(1, started.transaction_id, 350)
        closed = await http.post(f"/api/admin/transactions/{started.transaction_id}/close", json={}, headers=admin)
        assert closed.status_code == 200, closed.text
        assert (closed.json()["closed_by"], closed.json()["meter_stop"], closed.json()["energy_wh"]) == (
            "staff",
            350,
            250,
        )
        again = await http.post(f"/api/admin/transactions/{started.transaction_id}/close", headers=admin)
        assert again.status_code == 409 and "already stopped" in again.json()["detail"]
        # This connection still knows the transaction as open: its stop takes the no-read path.
        await charger.stop_transaction(started.transaction_id, 600, reason="Local")
    corrected = await record(http, admin, started.transaction_id)
    assert (corrected["closed_by"], corrected["meter_stop"], corrected["energy_wh"]) == ("charger", 600, 500)


async def test_staff_closing_is_checked_and_audited(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    unknown = await http.post("/api/admin/transactions/999999999/close", headers=admin)
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
    async with online_charger(server) as charger:
        started = await charger.start_transaction(1, await new_tag(server), meter_start=100)
        path = f"/api/admin/transactions/{started.transaction_id}/close"
        naive = await http.post(path, json={"stop_timestamp": "2026-01-01T10:00:00"}, headers=admin)
        assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
        negative = await http.post(path, json={"meter_stop": -1}, headers=admin)
        assert negative.status_code == 422
        user, _ = await create_account_with_role(server, "user")
        assert (await http.post(path, headers=bearer(await login_as(http, user)))).status_code == 403
        closed = await http.post(path, json={"meter_stop": 90}, headers=admin)
    assert (closed.json()["meter_stop"], closed.json()["energy_wh"], closed.json()["meter_went_backwards"]) == (
        90,
        0,
        True,
    )
    await server.app_runtime.writer.flush()  # the audit entry is written with the next batch
    audit = (await http.get("/api/admin/audit_log", headers=admin)).json()
    assert any(entry["path"] == path and entry["status_code"] == 200 for entry in audit)


@pytest.fixture
async def sweeping_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A node that flags a transaction stale after a second of silence, and looks every 0.1 s."""
    async with node_with(tmp_path, stale_transaction_after=1, stale_transaction_check_interval=0.1) as running:
        yield running


async def test_a_transaction_silent_for_longer_than_the_setting_is_flagged_stale_until_heard_of(
    sweeping_server: RunningServer,
) -> None:
    server = sweeping_server
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        staff, _ = await create_account_with_role(server, "admin")
        headers = bearer(await login_as(http, staff))
        async with online_charger(server) as charger:
            started = await charger.start_transaction(1, await new_tag(server), timestamp=iso(utc_now() - MINUTE))
            stale = await wait_for_record(http, headers, started.transaction_id, lambda seen: seen["is_stale"])
            assert stale["stale_since"] is not None and stale["is_active"] is True
            listed = (await http.get("/api/admin/transactions", headers=headers)).json()
            assert [row["is_stale"] for row in listed if row["id"] == started.transaction_id] == [True]
            await charger.meter_values(1, started.transaction_id, 100, timestamp=iso(utc_now() + MINUTE))
            heard = await wait_for_record(http, headers, started.transaction_id, lambda seen: not seen["is_stale"])
            assert heard["stale_since"] is None
