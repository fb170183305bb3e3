"""The product works the same on OCPP 1.6, 2.0.1 and 2.1: each test runs once per version, with a charger
of that version, and asserts only what the driver and the operator see (REST, the live stream)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, bearer, create_account_with_role, login_as, signup
from tests.operating import priced_charger
from tests.support.backends import sqlite_only_server
from tests.support.either_version import VERSIONS, StartAsked, connect_either
from tests.support.events import live_stream
from tests.support.waiting import poll, wait_until

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only

pytestmark = pytest.mark.parametrize("version", VERSIONS)


@pytest.fixture
async def staff(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


async def my_records(http: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.get("/api/transactions", headers=bearer(tokens))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


async def test_a_driver_pairs_starts_watches_stops_and_reads_the_costed_record(
    version: str, server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    charger_id = await priced_charger(server, http, staff)
    tokens = await signup(http)
    sticker = f"ocpp://{charger_id}?connector=2"
    async with (
        connect_either(version, server.ws_url, charger_id) as charger,
        live_stream(server.http_url, tokens) as live,
    ):
        await charger.boot_and_report(2)
        paired = await http.post("/api/pair", json={"qr": sticker}, headers=bearer(tokens))
        assert paired.status_code == 200, paired.text
        assert (paired.json()["connector_id"], paired.json()["status"]) == (2, "Available")

        started = await http.post("/api/start_charging", json={"qr": sticker}, headers=bearer(tokens))
        assert started.status_code == 200 and started.json() == {"status": "Accepted"}, started.text
        asked = await charger.start_asked()
        assert asked == StartAsked(tokens["idTag"], 2)

        await charger.start(asked, meter_wh=1_000, at="2026-03-02T10:00:00Z")
        await charger.meter(1_800, at="2026-03-02T10:20:00Z")
        running = (await poll(lambda: my_records(http, tokens), until=bool))[0]
        assert (running["charge_point_id"], running["connector_id"], running["is_active"]) == (charger_id, 2, True)
        await wait_until(lambda: live.events("transaction_started"))
        assert [event["transaction_id"] for event in live.events("transaction_started")] == [running["id"]]

        stopped = await http.post("/api/stop_charging", json={"transaction_id": running["id"]}, headers=bearer(tokens))
        assert stopped.status_code == 200 and stopped.json() == {"status": "Accepted"}, stopped.text
        await charger.stop_asked()
        await charger.stop(2_500, at="2026-03-02T10:40:00Z")

    ended = await poll(lambda: my_records(http, tokens), until=lambda found: not found[0]["is_active"])
    record = (await http.get(f"/api/transactions/{ended[0]['id']}", headers=bearer(tokens))).json()
    assert (record["energy_wh"], record["stop_reason"]) == (1_500, "Remote")
    # 1.5 kWh x 0.30 = 0.45, tax 20 % = 0.09: 0.54.
    assert (record["cost"], record["currency"]) == ("0.54", "EUR")
    registers = [v["value"] for v in record["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert "1800" in registers  # 2.0.1 also sends its begin and end readings as samples; 1.6 in Start/Stop
    # The operator sees the same charger whatever it speaks, with its version.
    seen = (await http.get(f"/api/admin/chargers/{charger_id}", headers=staff)).json()
    assert seen["ocpp_version"] == version
    assert [(c["connector_id"], c["status"]) for c in seen["connectors"] if c["connector_id"] == 2] == [
        (2, "Available")
    ]


async def test_a_start_on_a_connector_the_charger_has_not_reported_is_refused_alike(
    version: str, server: RunningServer, http: httpx.AsyncClient
) -> None:
    tokens = await signup(http)
    charger_id = await server.add_charger()
    async with connect_either(version, server.ws_url, charger_id) as charger:
        await charger.boot_and_report(1)
        response = await http.post(
            "/api/start_charging", json={"evse_id": charger_id, "connector_id": 3}, headers=bearer(tokens)
        )
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": f"charger {charger_id} has no connector 3 (it has 1)"}
