"""The security whitepaper's SignedUpdateFirmware and GetLog, over the same hosting and upload links as
UpdateFirmware and GetDiagnostics, followed through their status notifications with a real OCPP client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour
from tests.certificates import issue, make_ca
from tests.conftest import RunningServer
from tests.operating import admin, latest_request, online_charger, upload_firmware, wait_for_counts

__all__ = ["admin"]

SIGNATURE = base64.b64encode(b"manufacturer's signature of the image").decode()


@pytest.fixture(scope="module")
def signing_certificate() -> str:
    return issue(make_ca("Manufacturer CA"), "Firmware Signing").pem


async def start_signed_rollout(
    http: httpx.AsyncClient, admin: dict[str, str], file_id: int, charge_point_id: str, certificate: str
) -> dict[str, Any]:
    body = {"charge_point_ids": [charge_point_id], "signing_certificate": certificate, "signature": SIGNATURE}
    started = await http.post(f"/api/admin/firmware/{file_id}/rollouts", json={**body, "retries": 2}, headers=admin)
    assert started.status_code == 202, started.text
    rollout: dict[str, Any] = started.json()
    return rollout


async def test_a_signed_rollout_is_downloaded_verified_installed_and_confirmed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], signing_certificate: str
) -> None:
    image = secrets.token_bytes(50_000)
    stored = await upload_firmware(http, admin, image, version="4.0.0")
    async with online_charger(server) as charger:
        rollout = await start_signed_rollout(http, admin, stored["id"], charger.id, signing_certificate)
        assert rollout["signed"] is True
        update = (await charger.wait_for_call("SignedUpdateFirmware")).payload
        assert (update["request_id"], update["retries"]) == (rollout["id"], 2)
        sent = update["firmware"]
        assert (sent["signing_certificate"], sent["signature"]) == (signing_certificate, SIGNATURE)
        await wait_for_counts(http, admin, rollout["id"], {"Sent": 1})

        await charger.signed_firmware_status("Downloading", rollout["id"])
        async with httpx.AsyncClient() as plain:  # the charger: only the signed link
            download = await plain.get(sent["location"])
        assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(image).hexdigest()
        for status in ("Downloaded", "SignatureVerified", "Installing", "InstallRebooting"):
            await charger.signed_firmware_status(status, rollout["id"])
        await wait_for_counts(http, admin, rollout["id"], {"InstallRebooting": 1})
        await charger.boot(firmware_version="4.0.0")
    await wait_for_counts(http, admin, rollout["id"], {"Confirmed": 1})


async def test_an_invalid_signature_reported_by_the_charger_ends_its_rollout_row(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], signing_certificate: str
) -> None:
    stored = await upload_firmware(http, admin, b"image", version="4.0.1")
    async with online_charger(server) as charger:
        rollout = await start_signed_rollout(http, admin, stored["id"], charger.id, signing_certificate)
        await wait_for_counts(http, admin, rollout["id"], {"Sent": 1})
        await charger.signed_firmware_status("Downloaded", rollout["id"])
        await charger.signed_firmware_status("InvalidSignature", rollout["id"])
    await wait_for_counts(http, admin, rollout["id"], {"InvalidSignature": 1})


async def test_a_charger_refusing_the_signing_certificate_is_a_send_failure(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], signing_certificate: str
) -> None:
    stored = await upload_firmware(http, admin, b"image", version="4.0.2")
    refusing = ChargerBehaviour(
        answers={"SignedUpdateFirmware": lambda _: call_result.SignedUpdateFirmware(status="InvalidCertificate")}
    )
    async with online_charger(server, refusing) as charger:
        rollout = await start_signed_rollout(http, admin, stored["id"], charger.id, signing_certificate)
        summary = await wait_for_counts(http, admin, rollout["id"], {"SendFailed": 1})
    assert summary["chargers"][0]["detail"] == "the charger answered InvalidCertificate"


async def test_a_signature_without_its_certificate_is_422(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(http, admin, b"image", version="4.0.3")
    body = {"charge_point_ids": ["CP-X"], "signature": SIGNATURE}
    response = await http.post(f"/api/admin/firmware/{stored['id']}/rollouts", json=body, headers=admin)
    assert response.status_code == 422


async def test_a_security_log_is_requested_with_get_log_uploaded_and_tracked_by_request_id(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    content = secrets.token_bytes(10_000)
    async with online_charger(server) as charger:
        body = {"log_type": "SecurityLog", "start_time": "2026-01-01T00:00:00Z", "retries": 1}
        response = await http.post(f"/api/admin/chargers/{charger.id}/diagnostics", json=body, headers=admin)
        assert response.status_code == 201, response.text
        requested = response.json()
        sent = (await charger.wait_for_call("GetLog")).payload
        assert (sent["request_id"], sent["log_type"], sent["retries"]) == (requested["id"], "SecurityLog", 1)
        assert sent["log"]["oldest_timestamp"].startswith("2026-01-01T00:00:00")
        await charger.log_status("Uploading", requested["id"])
        async with httpx.AsyncClient() as plain:
            uploaded = await plain.put(sent["log"]["remote_location"], content=content)
        assert uploaded.status_code == 201, uploaded.text
        await charger.log_status("Uploaded", requested["id"])
    assert (requested["status"], requested["file_name"], requested["log_type"]) == (
        "Accepted",
        "security.log",
        "SecurityLog",
    )
    request = await latest_request(http, admin, charger.id)
    assert (request["status"], request["file_id"]) == ("Uploaded", uploaded.json()["id"])
    download = await http.get(f"/api/admin/diagnostics/{request['id']}/file", headers=admin)
    assert download.content == content


async def test_a_rejected_get_log_is_recorded_as_rejected(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rejecting = ChargerBehaviour(answers={"GetLog": lambda _: call_result.GetLog(status="Rejected")})
    async with online_charger(server, rejecting) as charger:
        body = {"log_type": "DiagnosticsLog"}
        response = await http.post(f"/api/admin/chargers/{charger.id}/diagnostics", json=body, headers=admin)
    assert (response.status_code, response.json()["status"]) == (201, "Rejected")
