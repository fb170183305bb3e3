"""A start on a connector that cannot take one is refused at once (409), and pairing says so beforehand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from csms.domain.connectors import ConnectorState
from csms.services.connector_use import LastSession, start_refusal
from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, signup


async def start(
    http: httpx.AsyncClient, user: dict[str, Any], charge_point_id: str, connector_id: int
) -> httpx.Response:
    body = {"evse_id": charge_point_id, "connector_id": connector_id}
    return await http.post("/api/start_charging", json=body, headers=bearer(user))


async def pair(http: httpx.AsyncClient, user: dict[str, Any], charge_point_id: str, connector_id: int) -> Any:
    code = f"ocpp://{charge_point_id}?connector={connector_id}"
    return (await http.post("/api/pair", json={"qr": code}, headers=bearer(user))).json()


async def assert_only_connector_started(
    charger: SimulatedCharger, http: httpx.AsyncClient, user: dict[str, Any], connector_id: int
) -> None:
    """The refused start sent nothing: the charger's first RemoteStart is the one for a free connector."""
    assert (await start(http, user, charger.id, connector_id)).json() == {"status": "Accepted"}
    remote_start = await charger.wait_for_call("RemoteStartTransaction")
    assert remote_start.payload["connector_id"] == connector_id


@pytest.mark.parametrize(
    ("status", "detail"),
    [("Faulted", "is out of order (Faulted)"), ("Unavailable", "is unavailable")],
)
async def test_a_start_on_a_connector_out_of_order_is_409_without_asking_the_charger(
    server: RunningServer, http: httpx.AsyncClient, status: str, detail: str
) -> None:
    driver = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, status, error_code="GroundFailure" if status == "Faulted" else "NoError")
        await charger.status(2, "Available")
        refused = await start(http, driver, charge_point_id, 1)
        assert refused.status_code == 409
        assert refused.json() == {"detail": f"connector 1 of {charge_point_id} {detail}"}
        assert (await pair(http, driver, charge_point_id, 1))["start_refused"] == refused.json()["detail"]
        assert (await pair(http, driver, charge_point_id, 2))["start_refused"] is None
        await assert_only_connector_started(charger, http, driver, 2)


async def test_a_connector_charging_for_another_driver_is_in_use_and_ones_own_says_so(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    driver, other = await signup(http), await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(2, "Available")
        await charger.start_transaction(1, other["idTag"], meter_start=0)
        await charger.status(1, "Charging")
        refused = await start(http, driver, charge_point_id, 1)
        assert refused.status_code == 409
        assert refused.json()["detail"] == f"connector 1 of {charge_point_id} is in use by another driver"
        assert (await pair(http, driver, charge_point_id, 1))["start_refused"] == refused.json()["detail"]
        again = await start(http, other, charge_point_id, 1)
        assert again.json()["detail"] == f"you are already charging on connector 1 of {charge_point_id}"
        await assert_only_connector_started(charger, http, driver, 2)


async def test_finishing_is_in_use_after_another_drivers_session_but_free_after_ones_own(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    driver, other = await signup(http), await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        for connector_id, owner in ((1, other), (2, driver)):
            started = await charger.start_transaction(connector_id, owner["idTag"], meter_start=0)
            await charger.status(connector_id, "Charging")
            await charger.stop_transaction(started.transaction_id, 500)
            await charger.status(connector_id, "Finishing")
        refused = await start(http, driver, charge_point_id, 1)
        assert refused.status_code == 409
        assert "another driver's car is still plugged in" in refused.json()["detail"]
        await assert_only_connector_started(charger, http, driver, 2)


async def test_a_charger_reported_faulted_before_it_left_is_refused_from_the_stored_status(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    driver = await signup(http)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Faulted", error_code="GroundFailure")
    paired = await pair(http, driver, charge_point_id, 1)
    assert paired["start_refused"] == f"connector 1 of {charge_point_id} is out of order (Faulted)"
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD):  # back, no status sent yet
        refused = await start(http, driver, charge_point_id, 1)
    assert refused.status_code == 409 and refused.json()["detail"] == paired["start_refused"]


NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("occupied_since", "refused"),
    [(NOW - timedelta(hours=1), True), (NOW + timedelta(minutes=5), False)],
    ids=["that-session's-car", "a-car-plugged-in-after"],
)
def test_a_2x_occupied_connector_is_taken_only_by_the_car_of_another_drivers_last_session(
    occupied_since: datetime, refused: bool
) -> None:
    """2.x has no Finishing: Occupied reported before the other session ended is that car, still plugged in."""
    last = LastSession(user_id=2, is_active=False, stopped_at=NOW)
    reason = start_refusal(
        ConnectorState("Occupied", occupied_since), last, user_id=1, charge_point_id="CP1", connector_id=1
    )
    assert (reason is not None) is refused
