"""Which scheme a charger's firmware and diagnostics links get (services/file_transfer.py): its setting,
or on auto http until a quick http failure or an FTP-only vendor says ftp."""

from __future__ import annotations

import httpx

from tests.conftest import RunningServer, bearer, create_account_with_role, login_as
from tests.operating import upload_firmware
from tests.support.ftp import (
    FTP_ONLY_VENDOR,
    admin,
    api,
    charger_using,
    diagnostics_location,
    firmware_location,
    ftp_server,
    ftps_ca,
    upload,
)

__all__ = ["admin", "api", "ftp_server", "ftps_ca"]  # fixtures


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
    stored = await upload_firmware(api, admin, b"image", filename="fw.bin")
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


async def test_auto_switches_to_ftp_after_a_quick_get_log_upload_failure(
    ftp_server: RunningServer, api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with charger_using(ftp_server, api, admin, "auto") as charger:

        async def request_log() -> tuple[int, str]:
            response = await api.post(
                f"/api/admin/chargers/{charger.id}/diagnostics", json={"log_type": "SecurityLog"}, headers=admin
            )
            assert response.status_code == 201, response.text
            sent = [call.payload for call in charger.received if call.action == "GetLog"][-1]
            return response.json()["id"], sent["log"]["remote_location"]

        request_id, first = await request_log()
        assert first.startswith("http://")
        await charger.log_status("UploadFailure", request_id)
        _, second = await request_log()
    assert second.startswith("ftp://")
