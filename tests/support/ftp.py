"""A csms node with its FTP and FTPS servers on, and the charger's side of FTP: links from the calls a
simulated charger received, and the standard library's ftplib (run in a thread) as its FTP client."""

from __future__ import annotations

import asyncio
import ftplib
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.certificates import issue, make_ca
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    login_as,
    node_with,
)
from tests.support.processes import free_port
from tests.support.waiting import wait_for_true

DIAGNOSTICS_LIMIT = 100_000
FTP_ONLY_VENDOR = "FtpOnlyWorks"


@pytest.fixture(scope="module")
def ftps_ca() -> Any:
    return make_ca("FTPS test CA")


@pytest.fixture(scope="module")
async def ftp_server(tmp_path_factory: pytest.TempPathFactory, ftps_ca: Any) -> AsyncIterator[RunningServer]:
    """A csms node with its FTP server on, FTPS (implicit TLS) on a port of its own."""
    directory = tmp_path_factory.mktemp("ftp")
    certfile, keyfile = issue(ftps_ca, "csms ftps", server_ip="127.0.0.1").write(directory, "ftps")
    async with node_with(
        directory,
        ocpp_call_timeout=2,
        ftp_port=free_port(),
        ftps_port=free_port(),
        ftps_certfile=str(certfile),
        ftps_keyfile=str(keyfile),
        diagnostics_max_bytes=DIAGNOSTICS_LIMIT,
        ftp_only_vendors=[FTP_ONLY_VENDOR],
    ) as running:
        yield running


@pytest.fixture
async def api(ftp_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ftp_server.http_url, timeout=10) as client:
        yield client


@pytest.fixture
async def admin(ftp_server: RunningServer, api: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(ftp_server, "admin")
    return bearer(await login_as(api, username))


@asynccontextmanager
async def charger_using(
    server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str], scheme: str, *, vendor: str = "csms-sim"
) -> AsyncIterator[SimulatedCharger]:
    """A connected, booted charger whose file transfers are set to `scheme`."""
    charge_point_id = await server.add_charger()
    set_to = await api.patch(f"/api/admin/chargers/{charge_point_id}", json={"file_transfer": scheme}, headers=admin)
    assert set_to.status_code == 200, set_to.text
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot(vendor=vendor)
        yield charger


async def roll_out(
    api: httpx.AsyncClient, admin: dict[str, str], charger: SimulatedCharger, image: dict[str, Any]
) -> tuple[int, str]:
    """Roll `image` out to the charger: the rollout's id, once csms has its answer, and the location
    its UpdateFirmware carried."""
    before = sum(call.action == "UpdateFirmware" for call in charger.received)
    started = await api.post(
        f"/api/admin/firmware/{image['id']}/rollouts", json={"charge_point_ids": [charger.id]}, headers=admin
    )
    assert started.status_code == 202, started.text
    rollout_id: int = started.json()["id"]

    async def is_sent() -> bool:
        summary = (await api.get(f"/api/admin/firmware/rollouts/{rollout_id}", headers=admin)).json()
        return bool(summary["counts"] == {"Sent": 1})

    await wait_for_true(is_sent)
    locations = [call.payload["location"] for call in charger.received if call.action == "UpdateFirmware"]
    assert len(locations) == before + 1
    return rollout_id, locations[-1]


async def firmware_location(
    api: httpx.AsyncClient, admin: dict[str, str], charger: SimulatedCharger, image: dict[str, Any]
) -> str:
    return (await roll_out(api, admin, charger, image))[1]


async def diagnostics_location(
    api: httpx.AsyncClient, admin: dict[str, str], charger: SimulatedCharger
) -> tuple[int, str]:
    """Ask for diagnostics; the request's id and the upload location its GetDiagnostics carried."""
    before = sum(call.action == "GetDiagnostics" for call in charger.received)
    response = await api.post(f"/api/admin/chargers/{charger.id}/diagnostics", json={}, headers=admin)
    assert response.status_code == 201, response.text
    calls = [call.payload["location"] for call in charger.received if call.action == "GetDiagnostics"]
    assert len(calls) == before + 1
    return response.json()["id"], calls[-1]


# -- the charger's FTP client: the standard library's ftplib, in a thread of the test ----------------


def ftp_session(link: SplitResult) -> ftplib.FTP:
    client = ftplib.FTP(timeout=10)  # noqa: S321 - FTP is what these chargers speak
    client.connect(link.hostname or "", link.port or 21)
    try:
        client.login(link.username or "", link.password or "")
    except ftplib.Error:
        client.close()
        raise
    return client


def _download(location: str, path: str | None = None) -> bytes:
    link = urlsplit(location)
    received = io.BytesIO()
    with ftp_session(link) as client:
        client.retrbinary(f"RETR {path or link.path}", received.write)
    return received.getvalue()


def _upload(location: str, name: str, content: bytes) -> None:
    link = urlsplit(location)
    with ftp_session(link) as client:
        client.cwd(link.path or "/")
        client.storbinary(f"STOR {name}", io.BytesIO(content))


async def download(location: str, path: str | None = None) -> bytes:
    return await asyncio.to_thread(_download, location, path)


async def upload(location: str, name: str, content: bytes) -> None:
    await asyncio.to_thread(_upload, location, name, content)


def stored_file_count(server: RunningServer) -> int:
    directory = Path(server.app_runtime.settings.resolved_files_dir())
    return sum(1 for _ in directory.iterdir()) if directory.exists() else 0
