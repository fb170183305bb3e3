"""An independent, strict OCPP implementation finds csms schema-valid: ocpp-rpc in strict mode (its own
schemas of 1.6, 2.0.1 and 2.1, not the `ocpp` package's csms uses) connects as a station of each version,
lives a station's life, and answers every call csms sends while the driver's app and the operator use
csms's REST API. Every csms answer and every csms call must pass ocpp-rpc's schemas."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from tests.certificates import issue, make_ca, make_csr
from tests.conftest import RunningServer, bearer, create_account_with_role, login_as, signup
from tests.operating import new_tag, ocpp_call, send_list, upload_firmware, wait_for_counts
from tests.support.strict_peer import StrictStation, offers_subprotocol, strict_station
from tests.support.waiting import poll

PROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
NEW_CHARGER_PASSWORD = "a-new-charger-secret-42"
SIGNATURE = base64.b64encode(b"the manufacturer's signature of the image").decode()

# The operator's generic calls (POST /api/admin/chargers/{id}/ocpp/{action}), per version: a representative
# set of what an operator sends besides the dedicated endpoints.
GENERIC_16: list[tuple[str, dict[str, Any]]] = [
    ("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
    ("UnlockConnector", {"connectorId": 1}),
    ("ClearCache", {}),
    ("DataTransfer", {"vendorId": "org.strict-peer", "messageId": "ping", "data": "x"}),
    (
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
                },
            },
        },
    ),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}),
    ("ClearChargingProfile", {"id": 7}),
    ("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}),
    ("GetLocalListVersion", {}),
    ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}),
    ("Reset", {"type": "Soft"}),
]
GENERIC_2X: list[tuple[str, dict[str, Any]]] = [
    (
        "GetVariables",
        {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
    ),
    (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "300",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ),
    ("GetBaseReport", {"requestId": 11, "reportBase": "ConfigurationInventory"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}}),
    ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
    ("ClearCache", {}),
    ("DataTransfer", {"vendorId": "org.strict-peer", "messageId": "ping", "data": "x"}),
    (
        "SetChargingProfile",
        {
            "evseId": 1,
            "chargingProfile": {
                "id": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": [
                    {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}
                ],
            },
        },
    ),
    ("GetCompositeSchedule", {"evseId": 1, "duration": 3600}),
    ("GetChargingProfiles", {"requestId": 12, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}),
    ("ClearChargingProfile", {"chargingProfileId": 7}),
    ("GetTransactionStatus", {}),
    ("GetInstalledCertificateIds", {}),
    ("GetLocalListVersion", {}),
    ("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}),
    ("Reset", {"type": "OnIdle"}),
]
# What the station must have been sent by the end: the app's start and stop, the operator's dedicated
# endpoints (reservation, local list, firmware, logs, password) and the generic calls above.
EXPECTED_16 = {
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "CancelReservation",
    "SendLocalList",
    "UpdateFirmware",
    "GetDiagnostics",
    "GetLog",
    "SignedUpdateFirmware",
    "CertificateSigned",
} | {action for action, _ in GENERIC_16}
EXPECTED_2X = {
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "CancelReservation",
    "SendLocalList",
    "UpdateFirmware",
    "GetLog",
    "CertificateSigned",
} | {action for action, _ in GENERIC_2X}


@pytest.fixture
def operator_ca(sqlite_server: RunningServer, tmp_path: Path) -> Iterator[None]:
    """csms configured with an operator CA, so that it signs the station's CSR and sends CertificateSigned."""
    settings = sqlite_server.app_runtime.settings
    settings.ca_certfile, settings.ca_keyfile = (str(path) for path in make_ca().write(tmp_path, "operator-ca"))
    yield
    settings.ca_certfile = settings.ca_keyfile = None


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.usefixtures("operator_ca")
async def test_a_strict_station_finds_every_csms_answer_and_call_schema_valid(
    protocol: str, sqlite_server: RunningServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    charger_id = await sqlite_server.add_charger()
    if not await offers_subprotocol(sqlite_server, charger_id, protocol):
        pytest.skip(f"csms does not accept the {protocol} subprotocol yet (issue #21 adds OCPP 2.1)")
    admin = bearer(await login_as(api, (await create_account_with_role(sqlite_server, "admin"))[0]))
    driver = await signup(api)
    await price(api, admin, charger_id)
    card = await card_of_a_group(api, admin, protocol)
    csr = tmp_path / "station.csr"
    csr.write_text(make_csr(charger_id)[0])
    async with strict_station(sqlite_server.ws_url, charger_id, protocol, id_tag=card, csr=csr) as station:
        assert (await station.ready())["protocol"] == protocol
        await charge_from_the_app(api, charger_id, bearer(driver))
        await reserve_and_cancel(api, admin, charger_id, driver)
        await operate(
            api, station, admin, charger_id, bearer(driver), GENERIC_16 if protocol == "ocpp1.6" else GENERIC_2X
        )
        summary = await station.stop()

    assert summary["failures"] == [], summary["failures"]
    assert summary["badMessages"] == []
    assert summary["callErrors"] == [], "csms refused a call of the station's own life"
    assert [sent for sent in summary["sent"] if "error" in sent] == []
    assert summary["unhandled"] == []
    expected = EXPECTED_16 if protocol == "ocpp1.6" else EXPECTED_2X
    assert expected <= {call["action"] for call in summary["received"]}


async def price(api: httpx.AsyncClient, admin: dict[str, str], charger_id: str) -> None:
    """A tariff on the charger, so that csms's answers carry the running cost where the version has one."""
    tariff = {
        "name": "strict",
        "currency": "EUR",
        "tax_rate": "0.20",
        "price_per_kwh": "0.30",
        "price_per_minute": "0.01",
    }
    created = await api.post("/api/admin/tariffs", json=tariff, headers=admin)
    assert created.status_code == 201, created.text
    body = {"tariff_id": created.json()["id"], "charge_point_id": charger_id}
    assigned = await api.post("/api/admin/tariff_assignments", json=body, headers=admin)
    assert assigned.status_code == 201, assigned.text


async def card_of_a_group(api: httpx.AsyncClient, admin: dict[str, str], protocol: str) -> str:
    """A card with a parent (group) and an expiry, so answers about it carry every idTagInfo field."""
    group = await new_tag(api, admin)
    fields: dict[str, Any] = {"parent_id_tag": group, "expiry_date": "2030-01-01T00:00:00Z"}
    if protocol != "ocpp1.6":
        fields["type"] = "ISO14443"
    return await new_tag(api, admin, **fields)


async def charge_from_the_app(api: httpx.AsyncClient, charger_id: str, driver: dict[str, str]) -> None:
    started = await api.post("/api/start_charging", json={"evse_id": charger_id, "connector_id": 1}, headers=driver)
    assert started.status_code == 200 and started.json() == {"status": "Accepted"}, started.text

    async def records() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await api.get("/api/transactions", headers=driver)).json()
        return [record for record in found if record["connector_id"] == 1]

    running = (await poll(records, until=lambda found: any(record["is_active"] for record in found)))[0]
    stopped = await api.post("/api/stop_charging", json={"transaction_id": running["id"]}, headers=driver)
    assert stopped.status_code == 200 and stopped.json() == {"status": "Accepted"}, stopped.text
    await poll(records, until=lambda found: not any(record["is_active"] for record in found))


async def reserve_and_cancel(
    api: httpx.AsyncClient, admin: dict[str, str], charger_id: str, driver: dict[str, Any]
) -> None:
    """The driver's tag put in a group first, so ReserveNow carries the group (parentIdTag, groupIdToken)."""
    group = await new_tag(api, admin)
    grouped = await api.patch(f"/api/admin/id_tags/{driver['idTag']}", json={"parent_id_tag": group}, headers=admin)
    assert grouped.status_code == 200, grouped.text
    reserved = await api.post(
        "/api/reservations", json={"evse_id": charger_id, "connector_id": 1, "minutes": 15}, headers=bearer(driver)
    )
    assert reserved.status_code == 200 and reserved.json()["status"] == "Accepted", reserved.text
    cancelled = await api.delete(f"/api/reservations/{reserved.json()['id']}", headers=bearer(driver))
    assert cancelled.status_code == 200, cancelled.text


async def operate(
    api: httpx.AsyncClient,
    station: StrictStation,
    admin: dict[str, str],
    charger_id: str,
    driver: dict[str, str],
    generic: list[tuple[str, dict[str, Any]]],
) -> None:
    await local_lists(api, admin, charger_id, driver)

    image = await upload_firmware(api, admin, b"strict-peer firmware", version="2.0.0")
    rollout = await api.post(
        f"/api/admin/firmware/{image['id']}/rollouts", json={"charge_point_ids": [charger_id]}, headers=admin
    )
    assert rollout.status_code == 202, rollout.text
    await wait_for_counts(api, admin, rollout.json()["id"], {"Installed": 1})
    signed = {"signing_certificate": issue(make_ca("Manufacturer CA"), "Firmware Signing").pem, "signature": SIGNATURE}
    rollout = await api.post(
        f"/api/admin/firmware/{image['id']}/rollouts",
        json={"charge_point_ids": [charger_id], "retries": 2, "retry_interval": 60, **signed},
        headers=admin,
    )
    assert rollout.status_code == 202, rollout.text
    await wait_for_counts(api, admin, rollout.json()["id"], {"Installed": 1})

    window = {
        "start_time": "2026-01-01T00:00:00Z",
        "stop_time": "2026-01-02T00:00:00Z",
        "retries": 1,
        "retry_interval": 30,
    }
    for body in ({}, {"log_type": "SecurityLog"}, window):
        asked = await api.post(f"/api/admin/chargers/{charger_id}/diagnostics", json=body, headers=admin)
        assert asked.status_code == 201, asked.text

    for action, payload in generic:
        answered = await ocpp_call(api, admin, charger_id, action, payload)
        assert answered.status_code == 200, f"{action}: {answered.text}"
    await station.wait_for_call("CertificateSigned")

    changed = await api.post(
        f"/api/admin/chargers/{charger_id}/password", json={"password": NEW_CHARGER_PASSWORD}, headers=admin
    )
    assert changed.status_code == 200 and changed.json() == {"status": "Accepted"}, changed.text
    await station.wait_for_call("ChangeConfiguration" if generic is GENERIC_16 else "SetVariables")


async def local_lists(api: httpx.AsyncClient, admin: dict[str, str], charger_id: str, driver: dict[str, str]) -> None:
    """A Full list, then Differential ones with a changed entry and a removal (an entry without idTagInfo)."""
    listed = await new_tag(api, admin)
    own = {"id_tag": "OWN" + secrets.token_hex(6).upper()}
    assert (await api.post("/api/me/id_tags", json=own, headers=driver)).status_code == 201
    assert (await send_list(api, admin, charger_id, "Full"))["status"] == "Accepted"
    blocked = await api.patch(f"/api/admin/id_tags/{listed}", json={"status": "Blocked"}, headers=admin)
    assert blocked.status_code == 200, blocked.text
    assert (await api.delete(f"/api/me/id_tags/{own['id_tag']}", headers=driver)).status_code == 204
    assert (await send_list(api, admin, charger_id, "Differential"))["status"] == "Accepted"


async def test_the_strict_station_reports_an_answer_and_a_call_that_break_the_schema() -> None:
    """The check itself: against a central system that is not csms and gets both wrong, the station lists
    both failures and exits non-zero."""

    async def central_system(websocket: ServerConnection) -> None:
        boot = json.loads(await websocket.recv())
        await websocket.send(json.dumps([3, boot[1], {"status": "Maybe", "currentTime": "now", "interval": 300}]))
        await websocket.send(json.dumps([2, "reset-1", "Reset", {"type": "Sideways"}]))
        while (frame := json.loads(await websocket.recv()))[:2] != [4, "reset-1"]:
            assert frame[0] == 2  # the station's calls meanwhile, left unanswered
        await websocket.close()

    async with serve(central_system, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as fake:
        port = fake.sockets[0].getsockname()[1]
        async with strict_station(f"ws://127.0.0.1:{port}", "CP-FAKE", "ocpp1.6", id_tag="TAG") as station:
            summary = await station.summary()

    assert station.exit_code == 1
    assert [(failure["from"], failure["kind"], failure["action"]) for failure in summary["failures"]] == [
        ("csms", "answer", "BootNotification"),
        ("csms", "call", "Reset"),
    ]
    assert summary["received"] == [{"action": "Reset", "payload": {"type": "Sideways"}}]
