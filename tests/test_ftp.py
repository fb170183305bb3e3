"""csms's FTP server (csms/ftp/): a real FTP client, the charger's side, downloads firmware and uploads
diagnostics with the one-time logins of the ftp:// links csms sent; FTPS with implicit TLS; curl, as the
libcurl inside many chargers."""

from __future__ import annotations

import asyncio
import ftplib
import secrets
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aioftp
import httpx
import pytest
from pydantic import ValidationError

from csms.config import Settings
from tests.certificates import issue
from tests.conftest import (
    RunningServer,
    bearer,
    client_from,
    create_account_with_role,
    dependency_missing,
    login_as,
    node_with,
)
from tests.operating import upload_firmware
from tests.support.ftp import (
    DIAGNOSTICS_LIMIT,
    admin,
    api,
    charger_using,
    diagnostics_location,
    download,
    firmware_location,
    ftp_server,
    ftp_session,
    ftps_ca,
    stored_file_count,
    upload,
)

__all__ = ["admin", "api", "ftp_server", "ftps_ca"]  # fixtures
from tests.support.processes import CSMS, free_port, sqlite_env, wait_until_serving
from tests.support.waiting import wait_until

# -- firmware ------------------------------------------------------------------------------------


async def test_a_charger_set_to_ftp_downloads_its_firmware_with_the_login_its_update_carried(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(300_000)
    stored = await upload_firmware(api, admin, image, filename="fw-2.0.bin")
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
    mine = await upload_firmware(api, admin, b"my image", filename="mine.bin")
    theirs = await upload_firmware(api, admin, b"their image", filename="theirs.bin")
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
        with ftp_session(urlsplit(location)) as client:
            client.retrlines("LIST /firmware", lines.append)
        return [line.split()[-1] for line in lines]

    assert await asyncio.to_thread(listing) == ["mine.bin"]
    assert await download(location) == b"my image"


async def test_a_wrong_ftp_password_is_refused(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(api, admin, b"image", filename="fw.bin")
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
    stored = await upload_firmware(api, admin, image, filename="secure.bin")
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
    stored = await upload_firmware(api, admin, b"image", filename="fw.bin")
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
        client = ftp_session(urlsplit(location))
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
    stored = await upload_firmware(api, admin, image, filename="curl-fw.bin")
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


# -- settings ------------------------------------------------------------------------------------


async def test_passive_data_connections_use_the_configured_ports(tmp_path: Path) -> None:
    passive_port = free_port()
    async with (
        node_with(tmp_path, ftp_port=free_port(), ftp_passive_ports=str(passive_port)) as server,
        client_from(server) as client,
    ):
        username, _ = await create_account_with_role(server, "admin")
        headers = bearer(await login_as(client, username))
        async with charger_using(server, client, headers, "ftp") as charger:
            _, location = await diagnostics_location(client, headers, charger)

        def passive_address() -> tuple[str, int]:
            with ftp_session(urlsplit(location)) as session:
                return session.makepasv()

        assert await asyncio.to_thread(passive_address) == ("127.0.0.1", passive_port)
        await upload(location, "through-the-firewall.log", b"passed")


def test_a_passive_port_range_out_of_bounds_is_refused() -> None:
    for wrong in ("70000", "60100-60000", "ports"):
        with pytest.raises(ValidationError, match="a port or a range"):
            Settings(ftp_passive_ports=wrong)


def test_csms_serve_gives_ftps_the_https_certificate(tmp_path: Path, ftps_ca: Any) -> None:
    certfile, keyfile = issue(ftps_ca, "csms", server_ip="127.0.0.1").write(tmp_path, "https")
    http_port, ftps_port = free_port(), free_port()
    command = [CSMS, "serve", "--port", str(http_port), "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    environment = {**sqlite_env(tmp_path), "CSMS_FTPS_PORT": str(ftps_port)}
    process = subprocess.Popen(
        command, env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    trusting = ssl.create_default_context(cadata=ftps_ca.pem)
    try:
        wait_until_serving(f"https://127.0.0.1:{http_port}", process, verify=trusting)
        with socket.create_connection(("127.0.0.1", ftps_port), timeout=10) as raw:
            with trusting.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                greeting = tls.recv(100)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert greeting.startswith(b"220 ")
