"""What csms answers a BootNotification is the operator's choice (PATCH boot_answer), in 1.6 and 2.0.1:
Pending lets csms provision the charger while the charger's own calls get SecurityError; Rejected keeps
csms from calling it; Accepted (the default) gives the heartbeat interval."""

from __future__ import annotations

import httpx
import pytest
from ocpp.exceptions import SecurityError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from csms.simulator.charger import connect_charger
from csms.simulator.station201 import connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, new_charger_id
from tests.operating import admin, ocpp_call
from tests.support.waiting import poll

__all__ = ["admin"]

RETRY_INTERVAL = 60  # CSMS_BOOT_RETRY_INTERVAL's default


async def set_boot_answer(http: httpx.AsyncClient, admin: dict[str, str], charger_id: str, answer: str) -> None:
    response = await http.patch(f"/api/admin/chargers/{charger_id}", json={"boot_answer": answer}, headers=admin)
    assert response.status_code == 200 and response.json()["boot_answer"] == answer, response.text


async def registration_status(http: httpx.AsyncClient, admin: dict[str, str], charger_id: str) -> str | None:
    response = await http.get(f"/api/admin/chargers/{charger_id}", headers=admin)
    status: str | None = response.json()["registration_status"]
    return status


async def test_a_pending_201_station_is_provisioned_then_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    station_id = await server.add_charger()
    await set_boot_answer(http, admin, station_id, "Pending")
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        boot = await station.boot()
        assert (boot.status, boot.interval) == ("Pending", RETRY_INTERVAL)
        with pytest.raises(SecurityError):
            await station.call(call201.Heartbeat(), suppress=False)
        # csms may call a Pending station: that is what Pending is for.
        report = await ocpp_call(
            http, admin, station_id, "GetBaseReport", {"requestId": 1, "reportBase": "ConfigurationInventory"}
        )
        assert report.status_code == 200 and report.json() == {"status": "Accepted"}, report.text
        await poll(lambda: registration_status(http, admin, station_id), until=lambda status: status == "Pending")

        await set_boot_answer(http, admin, station_id, "Accepted")
        # Accepted: csms asks the station to boot now rather than after its Pending interval.
        trigger = await station.wait_for_call("TriggerMessage", within=20)
        assert trigger.payload == {"requested_message": "BootNotification"}
        accepted = await station.boot()
        assert (accepted.status, accepted.interval) == ("Accepted", 300)
        assert (await station.heartbeat()).current_time
    assert await registration_status(http, admin, station_id) == "Accepted"


async def test_a_rejected_16_charger_is_neither_answered_nor_called(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    await set_boot_answer(http, admin, charge_point_id, "Rejected")
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        boot = await charger.boot()
        assert (boot.status, boot.interval) == ("Rejected", RETRY_INTERVAL)
        with pytest.raises(SecurityError):
            await charger.call(call16.Heartbeat(), suppress=False)
        reset = await ocpp_call(http, admin, charge_point_id, "Reset", {"type": "Soft"})
        assert reset.status_code == 409 and "Rejected" in reset.json()["detail"], reset.text
        assert charger.received == []


async def test_a_reconnected_charger_that_does_not_boot_again_is_not_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Chargers need not boot on every connection (2.0.1 part 4 §5.4): without a boot on this one, there is
    # no answer to hold against it.
    charge_point_id = await server.add_charger()
    await set_boot_answer(http, admin, charge_point_id, "Pending")
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert (await charger.heartbeat()).current_time


async def test_a_boot_answer_csms_does_not_know_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    for answer in ("Maybe", None):
        response = await http.patch(
            f"/api/admin/chargers/{charge_point_id}", json={"boot_answer": answer}, headers=admin
        )
        assert response.status_code == 422, response.text
    assert (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()["boot_answer"] == "Accepted"


async def test_a_16_charger_registered_pending_waits_for_the_operator_and_boots_when_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = new_charger_id()
    body = {"charge_point_id": charge_point_id, "password": CHARGER_PASSWORD, "boot_answer": "Pending"}
    registered = await http.post("/api/admin/chargers", json=body, headers=admin)
    assert registered.status_code == 201 and registered.json()["boot_answer"] == "Pending", registered.text
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        assert (await charger.boot()).status == "Pending"
        configured = await ocpp_call(
            http, admin, charge_point_id, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}
        )
        assert configured.status_code == 200, configured.text
        await set_boot_answer(http, admin, charge_point_id, "Accepted")
        trigger = await charger.wait_for_call("TriggerMessage", within=20)
        assert trigger.payload == {"requested_message": "BootNotification"}
        assert (await charger.boot()).status == "Accepted"
    assert await registration_status(http, admin, charge_point_id) == "Accepted"
