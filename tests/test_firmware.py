"""Firmware: an admin uploads an image, a rollout sends UpdateFirmware with a signed link, the
charger really downloads it, reports progress, and its next boot confirms the version."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import RunningServer
from tests.operating import (
    admin,
    online_charger,
    reporting_before_answering,
    rollout_status,
    upload_firmware,
    wait_for_counts,
)

__all__ = ["admin"]


async def test_an_uploaded_image_is_kept_with_its_size_and_sha256(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(5000)
    stored = await upload_firmware(http, admin, image, version="2.0.0")
    assert (stored["name"], stored["size"], stored["sha256"], stored["version"]) == (
        "charger-fw.bin",
        5000,
        hashlib.sha256(image).hexdigest(),
        "2.0.0",
    )
    listed = (await http.get("/api/admin/firmware", headers=admin)).json()
    assert stored["id"] in [item["id"] for item in listed]


async def test_a_rollout_is_downloaded_installed_and_confirmed_by_the_next_boot(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(200_000)
    stored = await upload_firmware(http, admin, image, version="2.1.0")
    async with online_charger(server) as charger:
        started = await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts",
            json={"charge_point_ids": [charger.id], "retries": 3, "retry_interval": 60},
            headers=admin,
        )
        assert started.status_code == 202, started.text
        rollout_id = started.json()["id"]
        update = (await charger.wait_for_call("UpdateFirmware")).payload
        assert (update["retries"], update["retry_interval"]) == (3, 60)
        await wait_for_counts(http, admin, rollout_id, {"Sent": 1})

        await charger.firmware_status("Downloading")
        async with httpx.AsyncClient() as plain:  # the charger: no bearer token, only the signed link
            download = await plain.get(update["location"])
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == stored["sha256"] == hashlib.sha256(image).hexdigest()
        for status in ("Downloaded", "Installing", "Installed"):
            await charger.firmware_status(status)
        await wait_for_counts(http, admin, rollout_id, {"Installed": 1})
        await charger.boot(firmware_version="2.1.0")
    summary = await wait_for_counts(http, admin, rollout_id, {"Confirmed": 1})
    assert [(row["charge_point_id"], row["reported_version"]) for row in summary["chargers"]] == [(charger.id, "2.1.0")]


async def test_a_rollout_to_many_chargers_counts_each_outcome(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(http, admin, b"firmware", version="3.0.0")
    offline = await server.add_charger()
    async with online_charger(server) as first, online_charger(server) as second:
        started = await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts",
            json={"charge_point_ids": [first.id, second.id, offline]},
            headers=admin,
        )
        rollout_id = started.json()["id"]
        await wait_for_counts(http, admin, rollout_id, {"Sent": 2, "SendFailed": 1})
        await first.firmware_status("DownloadFailed")
        await second.firmware_status("Installed")
        await second.boot(firmware_version="2.9.9")
        summary = await wait_for_counts(
            http, admin, rollout_id, {"DownloadFailed": 1, "VersionMismatch": 1, "SendFailed": 1}
        )
    failed = next(row for row in summary["chargers"] if row["charge_point_id"] == offline)
    assert "not connected" in failed["detail"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.split("?")[0],
        lambda url: url.replace("signature=", "signature=0"),
        lambda url: url.replace("expires=", "expires=1"),
    ],
    ids=["missing", "wrong", "altered-expiry"],
)
async def test_a_firmware_link_without_its_valid_signature_is_403(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], tamper: Any
) -> None:
    stored = await upload_firmware(http, admin, b"firmware", version="1.0")
    async with online_charger(server) as charger:
        await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts", json={"charge_point_ids": [charger.id]}, headers=admin
        )
        location = (await charger.wait_for_call("UpdateFirmware")).payload["location"]
    response = await http.get(tamper(location))
    assert response.status_code == 403 and "detail" in response.json()


async def test_an_expired_firmware_link_is_403(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    from datetime import timedelta

    from csms.services import signed_urls

    stored = await upload_firmware(http, admin, b"firmware", version="1.0")
    runtime = server.app_runtime
    path = f"/files/firmware/{stored['id']}/charger-fw.bin"
    expired = signed_urls.signed_url(
        runtime.file_url_key, base_url=server.http_url, path=path, now=runtime.clock(), ttl=timedelta(seconds=-1)
    )
    response = await http.get(urlsplit(expired)._replace(scheme="", netloc="").geturl())
    assert response.status_code == 403 and response.json() == {"detail": "this link has expired"}


async def test_a_firmware_image_over_the_limit_is_413(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    settings = server.app_runtime.settings
    limit, settings.firmware_max_bytes = settings.firmware_max_bytes, 1000
    try:
        response = await http.post("/api/admin/firmware", content=b"x" * 1001, headers=admin)
    finally:
        settings.firmware_max_bytes = limit
    assert response.status_code == 413 and "limit of 1000 bytes" in response.json()["detail"]


async def test_progress_reported_before_the_answer_to_update_firmware_is_not_overwritten_by_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(http, admin, b"firmware", version="4.0.0")
    charger_class = reporting_before_answering(
        {"UpdateFirmware": lambda payload: ("FirmwareStatusNotification", {"status": "Downloading"})}
    )
    async with online_charger(server, charger_class=charger_class) as charger:
        started = await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts", json={"charge_point_ids": [charger.id]}, headers=admin
        )
        rollout_id = started.json()["id"]
        # The rollout's task (in this test's event loop) ends once it has recorded the answer.
        sending = [task for task in asyncio.all_tasks() if task.get_name() == f"firmware-rollout-{rollout_id}"]
        if sending:
            await asyncio.wait(sending, timeout=15)
        assert (await rollout_status(http, admin, rollout_id))["counts"] == {"Downloading": 1}


async def test_the_recent_rollouts_list_each_with_its_counts_newest_first(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(http, admin, b"firmware", version="4.0.0")
    offline = await server.add_charger()
    first = await http.post(
        f"/api/admin/firmware/{stored['id']}/rollouts", json={"charge_point_ids": [offline]}, headers=admin
    )
    async with online_charger(server) as charger:
        second = await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts", json={"charge_point_ids": [charger.id]}, headers=admin
        )
        await wait_for_counts(http, admin, second.json()["id"], {"Sent": 1})
        await charger.firmware_status("Installed")
        await wait_for_counts(http, admin, first.json()["id"], {"SendFailed": 1})
        response = await http.get("/api/admin/firmware/rollouts", params={"limit": 2}, headers=admin)
    assert response.status_code == 200, response.text
    listed = [(row["id"], row["firmware"]["version"], row["counts"]) for row in response.json()]
    assert listed == [
        (second.json()["id"], "4.0.0", {"Installed": 1}),
        (first.json()["id"], "4.0.0", {"SendFailed": 1}),
    ]
    assert "chargers" not in response.json()[0]
