"""Helpers for the tests of operating chargers: an admin, a connected simulated charger, OCPP calls."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from uuid import uuid4

import httpx
import pytest
import websockets
from ocpp.charge_point import snake_to_camel_case
from ocpp.messages import Call
from websockets.exceptions import InvalidStatus

from csms.simulator.charger import ChargerBehaviour, SimulatedCharger, basic_auth_header, connect_charger
from csms.simulator.station201 import SimulatedStation, StationBehaviour, connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as
from tests.support.waiting import poll


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(server, "admin")
    return bearer(await login_as(http, username))


@asynccontextmanager
async def online_charger(
    server: RunningServer,
    behaviour: ChargerBehaviour | None = None,
    *,
    connectors: int = 1,
    charger_class: type[SimulatedCharger] = SimulatedCharger,
) -> AsyncIterator[SimulatedCharger]:
    """A registered charger, connected, booted and with its connectors reported Available."""
    charge_point_id = await server.add_charger()
    async with connect_charger(
        server.ws_url, charge_point_id, CHARGER_PASSWORD, behaviour=behaviour, charger_class=charger_class
    ) as charger:
        await charger.boot()
        for connector_id in range(1, connectors + 1):
            await charger.status(connector_id, "Available")
        yield charger


@asynccontextmanager
async def booted_station(
    server: RunningServer, behaviour: StationBehaviour | None = None, *, evses: int = 2
) -> AsyncIterator[SimulatedStation]:
    """A registered 2.0.1 station, connected, booted and with its EVSEs (1 and 2) reported Available."""
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, behaviour=behaviour) as station:
        assert (await station.boot()).status == "Accepted"
        for evse_id in range(1, evses + 1):
            await station.status(evse_id, "Available")
        yield station


async def ocpp_call(
    http: httpx.AsyncClient, headers: dict[str, str], charge_point_id: str, action: str, payload: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/api/admin/chargers/{charge_point_id}/ocpp/{action}", json=payload, headers=headers)


async def ask_for_csr(http: httpx.AsyncClient, headers: dict[str, str], charge_point_id: str) -> None:
    """csms asks the charger for a CSR (ExtendedTriggerMessage SignChargePointCertificate), as it must before
    it signs one."""
    payload = {"requestedMessage": "SignChargePointCertificate"}
    response = await ocpp_call(http, headers, charge_point_id, "ExtendedTriggerMessage", payload)
    assert response.json() == {"status": "Accepted"}, response.text


def payloads_received(charger: SimulatedCharger, action: str) -> list[dict[str, Any]]:
    """The payloads of `action` the charger received, spelled as on the wire (the package hands them over in snake_case)."""
    return [snake_to_camel_case(received.payload) for received in charger.received if received.action == action]


Report = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


class ReportsBeforeAnswering(SimulatedCharger):
    """A charger that sends a status notification before its answer to a call, as real ones do.

    `reports` maps the call's action to a function of its payload (snake_case) that gives the
    notification sent first: its action and its payload as on the wire. The notification's own
    answer is ignored, as the answer to a call nobody waits for.
    """

    reports: ClassVar[dict[str, Report]] = {}

    async def _answer(self, action: str, payload: dict[str, Any], default: Any) -> Any:
        report = self.reports.get(action)
        if report is not None:
            await self.websocket.send(Call(str(uuid4()), *report(payload)).to_json())
        return await super()._answer(action, payload, default)


def reporting_before_answering(reports: dict[str, Report]) -> type[SimulatedCharger]:
    """A ReportsBeforeAnswering charger class with these reports."""
    return type("ReportingCharger", (ReportsBeforeAnswering,), {"reports": reports})


async def latest_request(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get(f"/api/admin/chargers/{charge_point_id}/diagnostics", headers=admin)).json()[
        0
    ]
    return body


async def upload_firmware(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    image: bytes,
    *,
    version: str | None = None,
    filename: str = "charger-fw.bin",
) -> dict[str, Any]:
    """Upload a firmware image as an admin does; its record."""
    response = await http.post(
        "/api/admin/firmware",
        params={"version": version} if version is not None else {},
        content=image,
        headers={**admin, "X-Filename": filename, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def rollout_status(http: httpx.AsyncClient, admin: dict[str, str], rollout_id: int) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get(f"/api/admin/firmware/rollouts/{rollout_id}", headers=admin)).json()
    return body


async def wait_for_counts(
    http: httpx.AsyncClient, admin: dict[str, str], rollout_id: int, expected: dict[str, int]
) -> dict[str, Any]:
    return await poll(
        lambda: rollout_status(http, admin, rollout_id), until=lambda summary: summary["counts"] == expected
    )


async def authorization_status(server: RunningServer, id_tag: str) -> str:
    """What a newly connected charger is answered when it sends Authorize for `id_tag`."""
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        return str((await charger.authorize(id_tag)).id_tag_info["status"])


async def connect_status(server: RunningServer, charge_point_id: str, password: str) -> int:
    """The HTTP status of a charger's WebSocket upgrade with this password: 101 when it connects."""
    headers = {"Authorization": basic_auth_header(charge_point_id, password)}
    try:
        async with websockets.connect(
            f"{server.ws_url}/ocpp/{charge_point_id}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
        ):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def new_tag(http: httpx.AsyncClient, admin: dict[str, str], **fields: Any) -> str:
    """A tag registered by `admin` with a fresh value, and `fields` (status, parent_id_tag, type, ...)."""
    id_tag = "LT" + secrets.token_hex(6).upper()
    response = await http.post("/api/admin/id_tags", json={"id_tag": id_tag, **fields}, headers=admin)
    assert response.status_code == 201, response.text
    return id_tag


async def send_list(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, update_type: str
) -> dict[str, Any]:
    """The operator's local list update of the charger (Full or Differential), and csms's answer."""
    response = await http.post(
        f"/api/admin/chargers/{charge_point_id}/local_list", json={"update_type": update_type}, headers=admin
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def can_connect(server: RunningServer, charge_point_id: str, password: str, *, version: str = "1.6") -> bool:
    """Whether the charger gets in with this password (False: refused with 401)."""
    connect = connect_charger if version == "1.6" else connect_station
    try:
        async with connect(server.ws_url, charge_point_id, password):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 401
        return False


async def priced_charger(server: RunningServer, http: httpx.AsyncClient, staff: dict[str, str]) -> str:
    """A charger with its own tariff: 0.30 EUR a kWh, 20 % tax, nothing for time."""
    charge_point_id = await server.add_charger()
    tariff = {"name": "per kWh", "currency": "EUR", "tax_rate": "0.20", "price_per_kwh": "0.30"}
    created = await http.post("/api/admin/tariffs", json=tariff, headers=staff)
    assert created.status_code == 201, created.text
    assignment = {"tariff_id": created.json()["id"], "charge_point_id": charge_point_id}
    assigned = await http.post("/api/admin/tariff_assignments", json=assignment, headers=staff)
    assert assigned.status_code == 201, assigned.text
    return charge_point_id
