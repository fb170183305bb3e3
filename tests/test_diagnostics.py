"""Diagnostics: GetDiagnostics carries an upload link csms serves; the charger really uploads, and an
admin downloads the same bytes back."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.conftest import RunningServer
from tests.operating import admin, latest_request, online_charger, reporting_before_answering

__all__ = ["admin"]


async def request_diagnostics(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> dict[str, Any]:
    response = await http.post(
        f"/api/admin/chargers/{charge_point_id}/diagnostics", json={"retries": 1, "retry_interval": 10}, headers=admin
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_uploaded_diagnostics_file_downloads_back_byte_for_byte(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    content = secrets.token_bytes(300_000)
    async with online_charger(server) as charger:
        requested = await request_diagnostics(http, admin, charger.id)
        location = (await charger.wait_for_call("GetDiagnostics")).payload["location"]
        await charger.diagnostics_status("Uploading")
        async with httpx.AsyncClient() as plain:  # the charger: only the signed link
            uploaded = await plain.put(location, content=content, headers={"X-Filename": "cp.log"})
        assert uploaded.status_code == 201, uploaded.text
        await charger.diagnostics_status("Uploaded")
    assert (requested["status"], requested["file_name"]) == ("Accepted", "diagnostics.log")
    request = await latest_request(http, admin, charger.id)
    assert (request["status"], request["file_id"]) == ("Uploaded", uploaded.json()["id"])
    download = await http.get(f"/api/admin/diagnostics/{request['id']}/file", headers=admin)
    assert download.status_code == 200 and download.content == content


async def test_a_multipart_post_upload_is_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await request_diagnostics(http, admin, charger.id)
        location = (await charger.wait_for_call("GetDiagnostics")).payload["location"]
    async with httpx.AsyncClient() as plain:
        uploaded = await plain.post(location, files={"file": ("trace.zip", b"PK\x03\x04 zipped bytes")})
    assert uploaded.status_code == 201 and uploaded.json()["name"] == "trace.zip"
    request = await latest_request(http, admin, charger.id)
    download = await http.get(f"/api/admin/diagnostics/{request['id']}/file", headers=admin)
    assert download.content == b"PK\x03\x04 zipped bytes"


async def test_an_upload_failure_reported_by_the_charger_is_tracked(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await request_diagnostics(http, admin, charger.id)
        await charger.diagnostics_status("UploadFailed")
    assert (await latest_request(http, admin, charger.id))["status"] == "UploadFailed"


async def test_an_upload_without_a_valid_signature_is_403(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        requested = await request_diagnostics(http, admin, charger.id)
    unsigned = await http.put(f"/files/diagnostics/{requested['id']}", content=b"data")
    forged = await http.put(f"/files/diagnostics/{requested['id']}?expires=9999999999&signature=abc", content=b"data")
    assert [unsigned.status_code, forged.status_code] == [403, 403]
    assert forged.json() == {"detail": "this link's signature is not valid"}


@pytest.mark.parametrize(
    "query",
    [
        "expires=9999999999&signature=%C3%A9",
        "expires=%C2%B2&signature=" + "0" * 64,
        "expires=&signature=" + "0" * 64,
        "expires=9999999999&signature=",
        "expires=" + "9" * 5000 + "&signature=" + "0" * 64,
        "expires=-1&signature=" + "0" * 64,
        "expires=9999999999&signature=" + "A" * 64,
        "expires=9999999999&signature=%C2%B2" + "0" * 63,
        "expires=9999999999&signature=" + "0" * 10_000,
    ],
    ids=[
        "non-ascii-signature",
        "superscript-expiry",
        "empty-expiry",
        "empty-signature",
        "huge-expiry",
        "negative-expiry",
        "upper-case-signature",
        "superscript-in-signature",
        "huge-signature",
    ],
)
async def test_an_upload_link_with_malformed_parameters_is_403_json(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], query: str
) -> None:
    async with online_charger(server) as charger:
        requested = await request_diagnostics(http, admin, charger.id)
    response = await http.put(f"/files/diagnostics/{requested['id']}?{query}", content=b"data")
    assert response.status_code == 403, response.text
    assert set(response.json()) == {"detail"}
    assert (await latest_request(http, admin, charger.id))["file_id"] is None


def stored_file_names(server: RunningServer) -> set[str]:
    directory = server.app_runtime.files.directory
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


async def test_parallel_uploads_over_one_link_keep_exactly_one_file(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        await request_diagnostics(http, admin, charger.id)
        location = (await charger.wait_for_call("GetDiagnostics")).payload["location"]
    before = stored_file_names(server)
    uploaders = 5
    all_started = asyncio.Barrier(uploaders)

    async def body(marker: bytes) -> Any:
        yield marker + b"-" + b"x" * 100_000
        await all_started.wait()  # every upload is under way before any of them ends
        yield b"y" * 100_000

    async with httpx.AsyncClient(timeout=30) as plain:
        answers = await asyncio.gather(
            *(plain.put(location, content=body(b"upload-%d" % number)) for number in range(uploaders))
        )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] + [409] * (uploaders - 1), [answer.text for answer in answers]
    assert all("detail" in answer.json() for answer in answers if answer.status_code == 409)
    winner = next(answer for answer in answers if answer.status_code == 201).json()
    assert len(stored_file_names(server) - before) == 1
    request = await latest_request(http, admin, charger.id)
    assert request["file_id"] == winner["id"]
    download = await http.get(f"/api/admin/diagnostics/{request['id']}/file", headers=admin)
    assert download.content.startswith(b"upload-") and len(download.content) == winner["size"]


async def test_an_upload_over_the_limit_is_413_and_keeps_nothing(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    settings = server.app_runtime.settings
    async with online_charger(server) as charger:
        await request_diagnostics(http, admin, charger.id)
        location = (await charger.wait_for_call("GetDiagnostics")).payload["location"]
    limit, settings.diagnostics_max_bytes = settings.diagnostics_max_bytes, 1000

    async def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(3):
            yield b"x" * 600
            await asyncio.sleep(0)

    try:
        async with httpx.AsyncClient() as plain:
            response = await plain.put(location, content=chunks())
    finally:
        settings.diagnostics_max_bytes = limit
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert (await latest_request(http, admin, charger.id))["file_id"] is None


async def test_diagnostics_of_an_offline_charger_is_409(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    response = await http.post(f"/api/admin/chargers/{charge_point_id}/diagnostics", json={}, headers=admin)
    assert response.status_code == 409
    assert (await latest_request(http, admin, charge_point_id))["status"] == "SendFailed"


async def test_an_upload_failure_reported_before_the_answer_to_get_diagnostics_is_not_overwritten_by_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charger_class = reporting_before_answering(
        {"GetDiagnostics": lambda payload: ("DiagnosticsStatusNotification", {"status": "UploadFailed"})}
    )
    behaviour = ChargerBehaviour(answers={"GetDiagnostics": lambda payload: call_result.GetDiagnostics()})
    async with online_charger(server, behaviour, charger_class=charger_class) as charger:
        requested = await request_diagnostics(http, admin, charger.id)
    assert requested["status"] == "UploadFailed"
    assert (await latest_request(http, admin, charger.id))["status"] == "UploadFailed"


async def test_a_log_upload_failure_reported_before_the_answer_to_get_log_is_not_overwritten_by_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charger_class = reporting_before_answering(
        {
            "GetLog": lambda payload: (
                "LogStatusNotification",
                {"status": "UploadFailure", "requestId": payload["request_id"]},
            )
        }
    )
    async with online_charger(server, charger_class=charger_class) as charger:
        response = await http.post(
            f"/api/admin/chargers/{charger.id}/diagnostics", json={"log_type": "SecurityLog"}, headers=admin
        )
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["file_name"]) == ("UploadFailure", "security.log")
    assert (await latest_request(http, admin, charger.id))["status"] == "UploadFailure"
