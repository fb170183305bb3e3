"""FTP and FTPS for chargers: csms runs its own FTP server, a charger set to ftp gets ftp:// links with a
login for that one request, and a real FTP client (the charger's side) downloads firmware and uploads
diagnostics with them. A charger on auto switches to ftp after a quick http failure."""

from __future__ import annotations

import asyncio
import ftplib
import io
import secrets
import shutil
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import aioftp
import httpx
import pytest

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.certificates import issue, make_ca
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    create_account_with_role,
    dependency_missing,
    login_as,
    settings_for,
    start_server,
    stop_server,
)
from tests.support.processes import free_port
from tests.support.waiting import wait_for_true, wait_until

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
    settings = settings_for(
        f"sqlite+aiosqlite:///{directory / 'csms.db'}",
        ocpp_call_timeout=2,
        ftp_port=free_port(),
        ftps_port=free_port(),
        ftps_certfile=str(certfile),
        ftps_keyfile=str(keyfile),
        diagnostics_max_bytes=DIAGNOSTICS_LIMIT,
        ftp_only_vendors=[FTP_ONLY_VENDOR],
    )
    handle, task, running = await start_server(settings)
    yield running
    await stop_server(handle, task)


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


async def upload_firmware(api: httpx.AsyncClient, admin: dict[str, str], image: bytes, name: str) -> dict[str, Any]:
    response = await api.post(
        "/api/admin/firmware",
        content=image,
        headers={**admin, "X-Filename": name, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


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


def _ftp_session(link: SplitResult) -> ftplib.FTP:
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
    with _ftp_session(link) as client:
        client.retrbinary(f"RETR {path or link.path}", received.write)
    return received.getvalue()


def _upload(location: str, name: str, content: bytes) -> None:
    link = urlsplit(location)
    with _ftp_session(link) as client:
        client.cwd(link.path or "/")
        client.storbinary(f"STOR {name}", io.BytesIO(content))


async def download(location: str, path: str | None = None) -> bytes:
    return await asyncio.to_thread(_download, location, path)


async def upload(location: str, name: str, content: bytes) -> None:
    await asyncio.to_thread(_upload, location, name, content)


def stored_file_count(server: RunningServer) -> int:
    directory = Path(server.app_runtime.settings.resolved_files_dir())
    return sum(1 for _ in directory.iterdir()) if directory.exists() else 0


# -- firmware ------------------------------------------------------------------------------------


async def test_a_charger_set_to_ftp_downloads_its_firmware_with_the_login_its_update_carried(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(300_000)
    stored = await upload_firmware(api, admin, image, "fw-2.0.bin")
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        location = await firmware_location(api, admin, charger, stored)
    link = urlsplit(location)
    assert (link.scheme, link.hostname, link.port, link.path) == (
        "ftp",
        "127.0.0.1",
        ftp_server.app_runtime.settings.ftp_port,
        "/firmware/fw-2.0.bin",
    )
    assert await download(location) == image
    assert await download(location) == image  # the charger's retries use the same login


async def test_a_firmware_login_reads_only_its_own_image_and_writes_nothing(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    mine = await upload_firmware(api, admin, b"my image", "mine.bin")
    theirs = await upload_firmware(api, admin, b"their image", "theirs.bin")
    async with (
        charger_using(ftp_server, api, admin, "ftp") as charger,
        charger_using(ftp_server, api, admin, "ftp") as other,
    ):
        location = await firmware_location(api, admin, charger, mine)
        await firmware_location(api, admin, other, theirs)
    with pytest.raises(ftplib.error_perm):
        await download(location, "/firmware/theirs.bin")
    with pytest.raises(ftplib.error_perm, match="550"):
        await upload(location, "mine.bin", b"overwritten")

    def listing() -> list[str]:
        lines: list[str] = []
        with _ftp_session(urlsplit(location)) as client:
            client.retrlines("LIST /firmware", lines.append)
        return [line.split()[-1] for line in lines]

    assert await asyncio.to_thread(listing) == ["mine.bin"]
    assert await download(location) == b"my image"


async def test_a_wrong_ftp_password_is_refused(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(api, admin, b"image", "fw.bin")
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        location = await firmware_location(api, admin, charger, stored)
    link = urlsplit(location)
    forged = location.replace(f":{link.password}@", f":{'0' * len(link.password or '')}@")
    with pytest.raises(ftplib.error_perm, match="530"):
        await download(forged)
    made_up = location.replace(f"{link.username}:", "fw-1-99999999999:")
    with pytest.raises(ftplib.error_perm, match="530"):
        await download(made_up)


async def test_ftps_serves_firmware_over_implicit_tls(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str], ftps_ca: Any
) -> None:
    image = secrets.token_bytes(50_000)
    stored = await upload_firmware(api, admin, image, "secure.bin")
    async with charger_using(ftp_server, api, admin, "ftps") as charger:
        location = await firmware_location(api, admin, charger, stored)
    link = urlsplit(location)
    assert (link.scheme, link.port) == ("ftps", ftp_server.app_runtime.settings.ftps_port)
    trusting = ssl.create_default_context(cadata=ftps_ca.pem)
    async with aioftp.Client.context(
        link.hostname or "", link.port or 990, link.username or "", link.password or "", ssl=trusting
    ) as client:
        stream = await client.download_stream(link.path)
        received = b"".join([block async for block in stream.iter_by_block()])
        await stream.finish()
    assert received == image


# -- diagnostics ---------------------------------------------------------------------------------


async def test_a_charger_uploads_diagnostics_over_ftp_and_the_admin_downloads_them(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    content = secrets.token_bytes(DIAGNOSTICS_LIMIT)  # exactly the limit is allowed
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        request_id, location = await diagnostics_location(api, admin, charger)
        assert location.startswith("ftp://") and urlsplit(location).path == "/"
        await upload(location, "cp-diagnostics.zip", content)
        await charger.diagnostics_status("Uploaded")
        listed = (await api.get(f"/api/admin/chargers/{charger.id}/diagnostics", headers=admin)).json()[0]
    assert (listed["id"], listed["status"], listed["transfer_scheme"]) == (request_id, "Uploaded", "ftp")
    download_back = await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)
    assert download_back.status_code == 200 and download_back.content == content
    assert 'filename="cp-diagnostics.zip"' in download_back.headers["content-disposition"]


async def test_a_diagnostics_login_stops_working_once_its_file_is_stored(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        request_id, location = await diagnostics_location(api, admin, charger)
    await upload(location, "first.log", b"the first upload")
    with pytest.raises(ftplib.error_perm, match="530"):
        await upload(location, "second.log", b"a second upload")
    download_back = await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)
    assert download_back.content == b"the first upload"


async def test_a_diagnostics_login_cannot_see_other_files(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(api, admin, b"image", "fw.bin")
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        await firmware_location(api, admin, charger, stored)
        _, location = await diagnostics_location(api, admin, charger)
    with pytest.raises(ftplib.error_perm, match="550"):
        await download(location, "/firmware/fw.bin")


async def test_an_oversize_ftp_upload_is_refused_and_nothing_is_kept(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        request_id, location = await diagnostics_location(api, admin, charger)
    files_before = stored_file_count(ftp_server)
    with pytest.raises((ftplib.Error, OSError)):
        await upload(location, "huge.log", secrets.token_bytes(DIAGNOSTICS_LIMIT * 3))
    request = (await api.get(f"/api/admin/chargers/{charger.id}/diagnostics", headers=admin)).json()[0]
    assert request["file_id"] is None
    assert stored_file_count(ftp_server) == files_before
    await upload(location, "small.log", b"fits")  # the charger may try again within the limit
    assert (await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)).content == b"fits"


async def test_an_upload_cut_off_with_its_session_keeps_nothing(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        request_id, location = await diagnostics_location(api, admin, charger)
    files_before = stored_file_count(ftp_server)

    def start_upload() -> tuple[ftplib.FTP, socket.socket]:
        client = _ftp_session(urlsplit(location))
        client.voidcmd("TYPE I")
        data = client.transfercmd("STOR partial.log")
        data.sendall(b"x" * 10_000)
        return client, data

    client, data = await asyncio.to_thread(start_upload)
    try:
        await wait_until(lambda: stored_file_count(ftp_server) == files_before + 1)  # the upload is under way
        client.sock.shutdown(socket.SHUT_RDWR)  # the charger's control connection drops mid-transfer
        await wait_until(lambda: stored_file_count(ftp_server) == files_before)
    finally:
        data.close()
        client.close()
    request = (await api.get(f"/api/admin/chargers/{charger.id}/diagnostics", headers=admin)).json()[0]
    assert (request["id"], request["file_id"]) == (request_id, None)


# -- curl: libcurl is the FTP client inside many chargers ------------------------------------------


async def curl(*arguments: str) -> bytes:
    if shutil.which("curl") is None:
        dependency_missing("curl")
    process = await asyncio.create_subprocess_exec(
        "curl",
        "--silent",
        "--show-error",
        "--fail",
        "--max-time",
        "60",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    return output


async def test_curl_fetches_firmware_and_uploads_diagnostics_over_ftp(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str], tmp_path: Path
) -> None:
    image = secrets.token_bytes(120_000)
    stored = await upload_firmware(api, admin, image, "curl-fw.bin")
    logs = tmp_path / "charger.log"
    logs.write_bytes(b"diagnostics collected by curl")
    async with charger_using(ftp_server, api, admin, "ftp") as charger:
        firmware = await firmware_location(api, admin, charger, stored)
        request_id, upload_to = await diagnostics_location(api, admin, charger)
    assert await curl(firmware) == image
    await curl("--upload-file", str(logs), upload_to)
    download_back = await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)
    assert download_back.content == logs.read_bytes()
    assert 'filename="charger.log"' in download_back.headers["content-disposition"]


async def test_curl_uploads_diagnostics_over_ftps(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str], ftps_ca: Any, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ftps_ca.pem)
    logs = tmp_path / "secure.log"
    logs.write_bytes(secrets.token_bytes(30_000))
    async with charger_using(ftp_server, api, admin, "ftps") as charger:
        request_id, upload_to = await diagnostics_location(api, admin, charger)
    assert upload_to.startswith("ftps://")
    await curl("--cacert", str(ca_file), "--upload-file", str(logs), upload_to)
    download_back = await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)
    assert download_back.content == logs.read_bytes()


# -- choosing the scheme -------------------------------------------------------------------------


async def test_auto_switches_to_ftp_after_a_quick_http_upload_failure(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "auto") as charger:
        _, first = await diagnostics_location(api, admin, charger)
        assert first.startswith("http://")
        await charger.diagnostics_status("UploadFailed")  # "Unsupported protocol http:"
        learned = (await api.get(f"/api/admin/chargers/{charger.id}", headers=admin)).json()
        assert (learned["file_transfer"], learned["file_transfer_learned"]) == ("auto", "ftp")
        request_id, second = await diagnostics_location(api, admin, charger)
        assert second.startswith("ftp://")
        await upload(second, "now-over-ftp.log", b"collected at last")
    assert (await api.get(f"/api/admin/diagnostics/{request_id}/file", headers=admin)).content == b"collected at last"


async def test_auto_switches_to_ftp_after_a_quick_firmware_download_failure(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(api, admin, b"image", "fw.bin")
    async with charger_using(ftp_server, api, admin, "auto") as charger:
        assert (await firmware_location(api, admin, charger, stored)).startswith("http://")
        await charger.firmware_status("DownloadFailed")
        assert (await firmware_location(api, admin, charger, stored)).startswith("ftp://")


async def test_a_charger_set_to_ftp_gets_http_links_where_ftp_is_off(sqlite_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.http_url, timeout=10) as plain_api:
        username, _ = await create_account_with_role(sqlite_server, "admin")
        headers = bearer(await login_as(plain_api, username))
        async with charger_using(sqlite_server, plain_api, headers, "ftp") as charger:
            _, location = await diagnostics_location(plain_api, headers, charger)
    assert location.startswith("http://")


async def test_a_charger_of_an_ftp_only_vendor_gets_ftp_links_on_auto(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "auto", vendor=FTP_ONLY_VENDOR.lower()) as charger:
        _, location = await diagnostics_location(api, admin, charger)
    assert location.startswith("ftp://")


async def test_setting_the_scheme_again_forgets_what_auto_learned(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "auto") as charger:
        await diagnostics_location(api, admin, charger)
        await charger.diagnostics_status("UploadFailed")
        reset = await api.patch(f"/api/admin/chargers/{charger.id}", json={"file_transfer": "auto"}, headers=admin)
        assert reset.json()["file_transfer_learned"] is None
        _, location = await diagnostics_location(api, admin, charger)
    assert location.startswith("http://")


async def test_an_unknown_scheme_is_422_and_an_unknown_charger_404(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await ftp_server.add_charger()
    wrong = await api.patch(f"/api/admin/chargers/{charge_point_id}", json={"file_transfer": "sftp"}, headers=admin)
    unknown = await api.patch("/api/admin/chargers/CP-NOPE", json={"file_transfer": "ftp"}, headers=admin)
    assert (wrong.status_code, unknown.status_code) == (422, 404)
    assert "detail" in unknown.json()
