"""Firmware rollouts and log uploads for 2.0.1 stations: UpdateFirmware and GetLog (the same operator
endpoints as 1.6), the station really downloads and uploads, reports progress by requestId, and its next
boot confirms the version."""

from __future__ import annotations

import hashlib
import secrets

import httpx

from csms.simulator.charger import connect_charger
from csms.simulator.station201 import connect_station
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.operating import admin, latest_request, upload_firmware, wait_for_counts
from tests.support.backends import sqlite_only_server
from tests.support.waiting import poll

__all__ = ["admin", "sqlite_only_server"]


async def test_a_rollout_reaches_a_201_station_which_downloads_installs_and_confirms_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(100_000)
    stored = await upload_firmware(http, admin, image, version="3.0.1")
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await station.boot(firmwareVersion="3.0.0")
        started = await http.post(
            f"/api/admin/firmware/{stored['id']}/rollouts",
            json={"charge_point_ids": [station_id], "retries": 2, "retry_interval": 30},
            headers=admin,
        )
        assert started.status_code == 202, started.text
        rollout_id = started.json()["id"]
        update = (await station.wait_for_call("UpdateFirmware")).payload
        assert update == {
            "request_id": rollout_id,
            "firmware": {
                "location": update["firmware"]["location"],
                "retrieve_date_time": update["firmware"]["retrieve_date_time"],
            },
            "retries": 2,
            "retry_interval": 30,
        }
        await wait_for_counts(http, admin, rollout_id, {"Sent": 1})

        await station.firmware_status("Downloading", rollout_id)
        async with httpx.AsyncClient() as plain:  # the station: only the signed link
            download = await plain.get(update["firmware"]["location"])
        assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == stored["sha256"]
        for status in ("Downloaded", "Installing", "Installed"):
            await station.firmware_status(status, rollout_id)
        await wait_for_counts(http, admin, rollout_id, {"Installed": 1})
        await station.boot(firmwareVersion="3.0.1")
    summary = await wait_for_counts(http, admin, rollout_id, {"Confirmed": 1})
    assert [(row["charge_point_id"], row["reported_version"]) for row in summary["chargers"]] == [(station_id, "3.0.1")]


async def test_a_201_station_uploads_its_diagnostics_log_which_downloads_back(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    content = secrets.token_bytes(50_000)
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await station.boot()
        requested = await http.post(
            f"/api/admin/chargers/{station_id}/diagnostics",
            json={"start_time": "2026-03-01T00:00:00Z", "retries": 1},
            headers=admin,
        )
        assert requested.status_code == 201, requested.text
        assert (requested.json()["status"], requested.json()["file_name"]) == ("Accepted", "station.log")
        asked = (await station.wait_for_call("GetLog")).payload
        request_id = requested.json()["id"]
        assert asked == {
            "request_id": request_id,
            "log_type": "DiagnosticsLog",  # a 2.0.1 station's diagnostics
            "log": {"remote_location": asked["log"]["remote_location"], "oldest_timestamp": "2026-03-01T00:00:00.000Z"},
            "retries": 1,
        }
        await station.log_status("Uploading", request_id)
        async with httpx.AsyncClient() as plain:
            uploaded = await plain.put(
                asked["log"]["remote_location"], content=content, headers={"X-Filename": "station.log"}
            )
        assert uploaded.status_code == 201, uploaded.text
        await station.log_status("Uploaded", request_id)
    request = await poll(
        lambda: latest_request(http, admin, station_id), until=lambda found: found["status"] == "Uploaded"
    )
    download = await http.get(f"/api/admin/diagnostics/{request['id']}/file", headers=admin)
    assert download.status_code == 200 and download.content == content


async def test_a_local_controller_publishes_an_image_to_its_stations_and_unpublishes_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    image = secrets.token_bytes(50_000)
    stored = await upload_firmware(http, admin, image, version="4.0.0")
    controller_id = await server.add_charger()
    async with connect_station(server.ws_url, controller_id, CHARGER_PASSWORD) as controller:
        await controller.boot()
        asked = await http.post(
            f"/api/admin/firmware/{stored['id']}/publications",
            json={"charge_point_id": controller_id, "retries": 3},
            headers=admin,
        )
        assert asked.status_code == 201, asked.text
        publication = asked.json()
        md5 = hashlib.md5(image, usedforsecurity=False).hexdigest()
        assert (publication["status"], publication["checksum"]) == ("Accepted", md5)
        publish = (await controller.wait_for_call("PublishFirmware")).payload
        assert publish == {
            "location": publish["location"],
            "checksum": md5,
            "request_id": publication["id"],
            "retries": 3,
        }
        async with httpx.AsyncClient() as plain:  # the controller fetches it over the signed link
            download = await plain.get(publish["location"])
        assert download.status_code == 200 and download.content == image

        served = ["http://lc.local/fw/4.0.0.bin", "ftp://lc.local/fw/4.0.0.bin"]
        await controller.publish_firmware_status("ChecksumVerified", publication["id"])
        await controller.publish_firmware_status("Published", publication["id"], served)
        address = f"/api/admin/firmware/publications/{publication['id']}"
        published = await poll(
            lambda: http.get(address, headers=admin), until=lambda found: found.json()["status"] == "Published"
        )
        assert published.json()["published_locations"] == served
        listed = await http.get(
            "/api/admin/firmware/publications", params={"charge_point_id": controller_id}, headers=admin
        )
        assert [found["id"] for found in listed.json()] == [publication["id"]]

        unpublished = await http.delete(address, headers=admin)
        assert unpublished.status_code == 200 and unpublished.json()["status"] == "Unpublished", unpublished.text
        assert (await controller.wait_for_call("UnpublishFirmware")).payload == {"checksum": md5}
        again = await http.delete(address, headers=admin)
        assert again.status_code == 409, again.text


async def test_a_16_charger_cannot_publish_firmware(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    stored = await upload_firmware(http, admin, secrets.token_bytes(1_000), version="1.0")
    charger_id = await server.add_charger()
    async with connect_charger(server.ws_url, charger_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        body = {"charge_point_id": charger_id}
        refused = await http.post(f"/api/admin/firmware/{stored['id']}/publications", json=body, headers=admin)
    assert refused.status_code == 422 and "no local controllers" in refused.json()["detail"], refused.text
    listed = await http.get("/api/admin/firmware/publications", params={"charge_point_id": charger_id}, headers=admin)
    assert listed.json() == []  # refused before anything was kept
