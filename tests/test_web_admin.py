"""The admin dashboard in a real browser: login, live charger status, commands, users, transactions; a 2.0.1
station's page with its EVSEs and device model beside a 1.6 charger's with its configuration keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ocpp.v201 import call_result as call_result201
from playwright.async_api import Page, expect

from csms.simulator.charger import SimulatedCharger, connect_charger
from csms.simulator.station201 import SimulatedStation, connect_station
from tests.certificates import make_ca, make_csr
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, client_from, create_account_with_role, login_as
from tests.screens import check_page, snap
from tests.support.charging_records import new_tag
from tests.support.pages import log_in_as_admin

pytest_plugins = ["tests.browser"]


async def open_chargers(page: Page, charge_point_id: str) -> None:
    """The chargers list, searched for this one (the list shows a page at a time of every test's chargers)."""
    await page.get_by_role("link", name="Chargers", exact=True).click()
    await page.get_by_label("Id, vendor, model or serial").fill(charge_point_id)
    await page.locator("#charger-search").get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name=charge_point_id)).to_be_visible()


async def test_an_admin_sees_a_charger_go_from_available_to_charging_live(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    await log_in_as_admin(page, sqlite_server)
    await open_chargers(page, charge_point_id)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await expect(page.locator(f'[data-connection="{charge_point_id}"]')).to_have_text("Online")
        await expect(page.locator(f'[data-ocpp-version="{charge_point_id}"]')).to_have_text("1.6")
        connector = page.locator(f'[data-connector="{charge_point_id}/1"]')
        await charger.status(1, "Available")
        await expect(connector).to_have_text("Available")
        await charger.status(1, "Charging")
        await expect(connector).to_have_text("Charging")
        await snap(page, "admin-chargers")


async def charge_once(charger: SimulatedCharger, *, id_tag: str, readings: list[int]) -> int:
    """A whole session started at the charger: Charging, meter values, stop, Available."""
    await charger.status(1, "Preparing")
    started = await charger.start_transaction(1, id_tag, meter_start=readings[0])
    await charger.status(1, "Charging")
    for reading in readings[1:]:
        await charger.meter_values(1, started.transaction_id, reading)
    await charger.stop_transaction(started.transaction_id, readings[-1])
    await charger.status(1, "Available")
    return int(started.transaction_id)


async def test_every_dashboard_page_fits_a_phone_and_a_desktop(screen: Page, sqlite_server: RunningServer) -> None:
    page = screen
    charge_point_id = await sqlite_server.add_charger()
    await page.goto("/admin")
    await check_page(page, "Sign in to the csms dashboard", "admin-login")
    await log_in_as_admin(page, sqlite_server)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot(firmware_version="1.4.2", charge_point_serial_number="SN-0042")
        await charger.status(1, "Available")
        await charger.status(2, "Available")
        transaction_id = await charge_once(charger, id_tag="RFID-0001", readings=[0, 2_000, 5_500, 9_000])
        await charger.status(2, "Charging")
        await sqlite_server.flush_message_log()
        await page.reload()
        await check_page(page, "Overview", "admin-overview")
        await page.goto(f"/admin#/chargers/{charge_point_id}")
        await check_page(page, f"Charger {charge_point_id}", "admin-charger")
        await page.goto("/admin#/chargers")
        await check_page(page, "Chargers", "admin-chargers")
        await page.goto("/admin#/users")
        await check_page(page, "Users", "admin-users")
        await page.goto("/admin#/transactions")
        await check_page(page, "Transactions", "admin-transactions")
        await page.goto(f"/admin#/transactions/{transaction_id}")
        await check_page(page, f"Charging session {transaction_id}", "admin-transaction")
    station_id = await sqlite_server.add_charger()
    async with connect_station(sqlite_server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await reported_station(station)
        await page.goto(f"/admin#/chargers/{station_id}")
        await expect(page.locator("#variables")).to_contain_text("HeartbeatInterval")
        await check_page(page, f"Charger {station_id}", "admin-charger-201")


async def test_an_account_without_an_operator_role_is_kept_out(page: Page, sqlite_server: RunningServer) -> None:
    username, password = await create_account_with_role(sqlite_server, "user")
    await page.goto("/admin")
    await page.get_by_label("Username", exact=True).fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#admin-login-message")).to_contain_text("not an operator account")
    await expect(page.get_by_role("heading", name="Overview")).to_be_hidden()


async def test_the_charger_page_sends_commands_and_reads_configuration(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    await log_in_as_admin(page, sqlite_server)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        await page.goto(f"/admin#/chargers/{charge_point_id}")
        await page.get_by_label("Reset type").select_option("Hard")
        await page.get_by_role("button", name="Reset", exact=True).click()
        reset = page.get_by_role("dialog", name=f"Hard reset of {charge_point_id}?")
        await expect(reset).to_contain_text("a session running on it ends")
        await reset.get_by_role("button", name="Cancel").click()
        await expect(page.locator("#command-result")).to_have_text("Reset: not sent.")
        await page.get_by_role("button", name="Reset", exact=True).click()
        await reset.get_by_role("button", name="Reset the charger").click()
        await expect(page.locator("#command-result")).to_have_text("Reset: Accepted")
        assert (await charger.wait_for_call("Reset")).payload == {"type": "Hard"}
        assert [call.action for call in charger.received].count("Reset") == 1  # the cancelled one never left
        await page.get_by_role("button", name="Unlock").click()
        await (
            page.get_by_role("dialog", name=f"Unlock connector 1 of {charge_point_id}?")
            .get_by_role("button", name="Unlock the connector")
            .click()
        )
        await expect(page.locator("#command-result")).to_have_text("UnlockConnector: Unlocked")
        await page.get_by_role("button", name="Read configuration").click()
        await expect(page.locator("#configuration")).to_contain_text("HeartbeatInterval")
        # A 1.6 charger's page is as it was: connectors and configuration keys, no EVSEs or device model.
        await expect(page.locator("#charger-facts")).to_contain_text("OCPP version1.6")
        await expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
        await expect(page.locator('#charger-connectors [data-connector$="/1"]')).to_have_text("Available")
        await expect(page.get_by_role("heading", name="EVSEs")).to_be_hidden()
        await expect(page.get_by_role("heading", name="Device model")).to_be_hidden()
        await expect(page.get_by_label("Connector (0 = whole charger)")).to_be_visible()


HEARTBEAT_INTERVAL: dict[str, Any] = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "HeartbeatInterval"},
    "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
    "variableCharacteristics": {"unit": "s", "dataType": "integer", "supportsMonitoring": False},
}
CONNECTOR_TYPE: dict[str, Any] = {
    "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 2}},
    "variable": {"name": "ConnectorType"},
    "variableAttribute": [{"value": "cType2", "mutability": "ReadOnly"}],
}


async def reported_station(station: SimulatedStation) -> None:
    """A 2.0.1 station that booted, reported EVSE 1 (its connector 2) Available and sent its device model."""
    assert (await station.boot(serialNumber="SN-201")).status == "Accepted"
    await station.status(1, "Available", connector_id=2)
    await station.notify_report(1, 0, [HEARTBEAT_INTERVAL, CONNECTOR_TYPE], tbc=False)


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_a_2x_station_shows_its_version_evses_and_device_model(
    page: Page, sqlite_server: RunningServer, version: str
) -> None:
    station_id = await sqlite_server.add_charger()
    await log_in_as_admin(page, sqlite_server)
    async with connect_station(sqlite_server.ws_url, station_id, CHARGER_PASSWORD, ocpp_version=version) as station:
        await reported_station(station)
        await open_chargers(page, station_id)
        await expect(page.locator(f'[data-ocpp-version="{station_id}"]')).to_have_text(version)
        await page.get_by_role("link", name=station_id).click()
        await expect(page.get_by_role("heading", name=f"Charger {station_id}")).to_be_visible()
        await expect(page.locator("#charger-facts")).to_contain_text(f"OCPP version{version}")

        # Its EVSE with the connector on it, updated live.
        evses = page.locator("#charger-evses tbody tr")
        await expect(evses).to_have_count(1)
        await expect(evses.locator("td").nth(0)).to_have_text("1")
        await expect(evses.locator("td").nth(1)).to_have_text("2")
        await expect(evses.locator("td").nth(2)).to_have_text("Available")
        await expect(evses.locator("td").nth(3)).to_have_text("Operative")
        await station.status(1, "Occupied", connector_id=2)
        await expect(evses.locator(f'[data-connector="{station_id}/1"]')).to_have_text("Occupied")

        # Its device model instead of configuration keys.
        heartbeat = page.locator("#variables tbody tr", has_text="HeartbeatInterval")
        await expect(heartbeat).to_contain_text("OCPPCommCtrlr")
        await expect(heartbeat.locator("td").nth(3)).to_have_text("300")
        connector_type = page.locator("#variables tbody tr", has_text="ConnectorType")
        await expect(connector_type.locator("td").nth(0)).to_have_text("Connector (EVSE 1, connector 2)")
        await expect(connector_type.locator("td").nth(3)).to_have_text("cType2")
        await expect(page.get_by_role("heading", name="Configuration keys")).to_be_hidden()
        await expect(page.get_by_role("heading", name="Connectors")).to_be_hidden()

        # Commands go out as 2.0.1 spells them (2.1 alike).
        await page.get_by_label("Reset type").select_option("Immediate")
        await page.get_by_role("button", name="Reset", exact=True).click()
        await page.get_by_role("button", name="Reset the charger").click()
        await expect(page.locator("#command-result")).to_have_text("Reset: Accepted")
        assert (await station.wait_for_call("Reset")).payload == {"type": "Immediate"}
        await page.locator("#commands select[name=requestedMessage]").select_option("MeterValues")
        await page.get_by_label("EVSE (optional)").fill("1")
        await page.get_by_role("button", name="Trigger message").click()
        await expect(page.locator("#command-result")).to_have_text("TriggerMessage: Accepted")
        triggered = (await station.wait_for_call("TriggerMessage")).payload
        assert triggered == {"requested_message": "MeterValues", "evse": {"id": 1}}
        await expect(page.get_by_label("Connector (0 = whole charger)")).to_have_count(0)

        # A new report, asked for from the page, replaces the value it names.
        await page.get_by_role("button", name="Request a full report").click()
        await expect(page.locator("#variables-message")).to_contain_text("GetBaseReport: Accepted")
        asked = (await station.wait_for_call("GetBaseReport")).payload
        assert asked["report_base"] == "FullInventory"
        changed = {**HEARTBEAT_INTERVAL, "variableAttribute": [{"type": "Actual", "value": "120"}]}
        await station.notify_report(asked["request_id"], 0, [changed], tbc=False)
        # The page follows the report live: no refresh needed.
        await expect(heartbeat.locator("td").nth(3)).to_have_text("120")


EDITABLE_REPORT: list[dict[str, Any]] = [
    {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variableAttribute": [{"value": "300", "mutability": "ReadWrite"}],
        "variableCharacteristics": {"unit": "s", "dataType": "integer", "minLimit": 1, "maxLimit": 86400, "supportsMonitoring": False},
    },
    {
        "component": {"name": "AuthCtrlr"},
        "variable": {"name": "AuthorizeRemoteStart"},
        "variableAttribute": [{"value": "true", "mutability": "ReadWrite"}],
        "variableCharacteristics": {"dataType": "boolean", "supportsMonitoring": False},
    },
    CONNECTOR_TYPE,
]  # fmt: skip


async def test_an_admin_filters_the_device_model_and_edits_a_variable_inline(
    page: Page, sqlite_server: RunningServer
) -> None:
    station_id = await sqlite_server.add_charger()
    await log_in_as_admin(page, sqlite_server)
    async with connect_station(sqlite_server.ws_url, station_id, CHARGER_PASSWORD) as station:
        assert (await station.boot()).status == "Accepted"
        await station.notify_report(1, 0, EDITABLE_REPORT, tbc=False)
        await page.goto(f"/admin#/chargers/{station_id}")
        heartbeat = page.locator("#variables tbody tr", has_text="HeartbeatInterval")
        await expect(heartbeat.locator("td").nth(5)).to_have_text("integer, s, 1 to 86400")
        # Grouped by component; a ReadOnly variable has nothing to edit.
        await expect(page.locator("#variables tr.group")).to_have_text(
            ["AuthCtrlr", "Connector (EVSE 1, connector 2)", "OCPPCommCtrlr"]
        )
        await expect(
            page.get_by_role("button", name="Edit Connector (EVSE 1, connector 2) ConnectorType")
        ).to_have_count(0)

        await page.get_by_label("Filter").fill("heartbeat")
        await expect(page.locator("#variables tbody tr:not(.group)")).to_have_count(1)
        await expect(page.locator("#variables tr.group")).to_have_text(["OCPPCommCtrlr"])

        # A value beyond the reported limit is refused before it leaves; then one within it is sent.
        await page.get_by_role("button", name="Edit OCPPCommCtrlr HeartbeatInterval").click()
        value = page.get_by_label("New value of OCPPCommCtrlr HeartbeatInterval")
        await value.fill("100000")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#variables-message")).to_contain_text("above the maxLimit 86400")
        assert station.calls_received("SetVariables") == []
        await value.fill("60")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#variables-message")).to_have_text(
            "SetVariables OCPPCommCtrlr HeartbeatInterval: Accepted."
        )
        await expect(heartbeat.locator("td").nth(3)).to_have_text("60")
        assert station.calls_received("SetVariables") == [
            {
                "setVariableData": [
                    {
                        "attributeType": "Actual",
                        "attributeValue": "60",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            }
        ]

        # A boolean is chosen from a list; the station's refusal and its reason are shown.
        station.behaviour.answers["SetVariables"] = lambda payload: call_result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Rejected",
                    "attribute_status_info": {"reason_code": "ReadOnly", "additional_info": "locked by the owner"},
                    "component": {"name": "AuthCtrlr"},
                    "variable": {"name": "AuthorizeRemoteStart"},
                }
            ]
        )
        await page.get_by_label("Filter").fill("")
        await page.get_by_role("button", name="Edit AuthCtrlr AuthorizeRemoteStart").click()
        await page.get_by_label("New value of AuthCtrlr AuthorizeRemoteStart").select_option("false")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#variables-message")).to_have_text(
            "SetVariables AuthCtrlr AuthorizeRemoteStart: Rejected (ReadOnly: locked by the owner)."
        )
        remote_start = page.locator("#variables tbody tr", has_text="AuthorizeRemoteStart")
        await expect(remote_start.locator("td").nth(3)).to_have_text("true")
        await check_page(page, f"Charger {station_id}", "admin-device-model")


async def test_an_admin_revokes_a_chargers_certificate_from_its_page(
    page: Page, sqlite_server: RunningServer, tmp_path: Path
) -> None:
    settings = sqlite_server.app_runtime.settings
    settings.ca_certfile, settings.ca_keyfile = (str(path) for path in make_ca().write(tmp_path, "operator-ca"))
    try:
        charge_point_id = await sqlite_server.add_charger()
        username = await log_in_as_admin(page, sqlite_server)
        async with (
            client_from(sqlite_server) as http,
            connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
        ):
            await charger.boot()
            admin = bearer(await login_as(http, username))
            window = f"/api/admin/chargers/{charge_point_id}/certificates/sign-window"
            assert (await http.post(window, json={"minutes": 5}, headers=admin)).status_code == 200
            assert (await charger.sign_certificate(make_csr(charge_point_id)[0])).status == "Accepted"
            await charger.wait_for_call("CertificateSigned")
        await page.goto(f"/admin#/chargers/{charge_point_id}")
        revoke = page.get_by_role("button", name=re.compile("^Revoke certificate "))
        await revoke.click()
        await expect(page.locator("#certificates-message")).to_contain_text("revoked")
        await expect(page.locator("#certificates tbody")).to_contain_text("(unspecified)")
        await expect(revoke).to_have_count(0)
    finally:
        settings.ca_certfile = settings.ca_keyfile = None


async def test_an_admin_blocks_a_user_from_the_users_page(page: Page, sqlite_server: RunningServer) -> None:
    driver, _ = await create_account_with_role(sqlite_server, "user")
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("Search by username").fill(driver)
    await page.get_by_role("button", name="Search", exact=True).click()
    row = page.locator(f'tr[data-user="{driver}"]')
    await row.get_by_role("button", name=f"Block {driver}").click()
    dialog = page.get_by_role("dialog", name=f"Block {driver}?")
    await expect(dialog).to_contain_text("logged out everywhere")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(row.locator(".badge")).to_have_text("Active")
    await row.get_by_role("button", name=f"Block {driver}").click()
    await dialog.get_by_role("button", name="Block the account").click()
    await expect(row.locator(".badge")).to_have_text("Blocked")
    await row.get_by_role("button", name=f"Unblock {driver}").click()  # unblocking asks nothing
    await expect(row.locator(".badge")).to_have_text("Active")


async def test_a_role_change_asks_first_and_a_cancelled_one_leaves_the_role(
    page: Page, sqlite_server: RunningServer
) -> None:
    driver, _ = await create_account_with_role(sqlite_server, "user")
    await log_in_as_admin(page, sqlite_server, role="root")
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("Search by username").fill(driver)
    await page.get_by_role("button", name="Search", exact=True).click()
    role = page.get_by_label(f"Role of {driver}")
    await role.select_option("admin")
    dialog = page.get_by_role("dialog", name=f"Make {driver} admin?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(role).to_have_value("user")
    await role.select_option("admin")
    await dialog.get_by_role("button", name="Change the role").click()
    await expect(page.locator("#users-message")).to_have_text(f"{driver} updated.")
    await page.reload()  # read back from the server
    await page.get_by_label("Search by username").fill(driver)
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.get_by_label(f"Role of {driver}")).to_have_value("admin")


async def test_transactions_are_exported_as_csv(page: Page, sqlite_server: RunningServer) -> None:
    charge_point_id = await sqlite_server.add_charger()
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        transaction_id = await charge_once(charger, id_tag="RFID-CSV", readings=[0, 1_234])
    await log_in_as_admin(page, sqlite_server)
    await page.get_by_role("link", name="Transactions").click()
    await page.locator("#transaction-filters").get_by_label("Charger").fill(charge_point_id)
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#transactions-table tbody tr")).to_have_count(1)
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    path = await (await download_info.value).path()
    lines = path.read_text().splitlines()
    assert lines[0].startswith("id,charge_point_id")
    assert [line.split(",")[0] for line in lines[1:]] == [str(transaction_id)]


async def test_staff_see_a_refused_start_left_open_and_close_it_from_its_page(
    page: Page, sqlite_server: RunningServer
) -> None:
    charge_point_id = await sqlite_server.add_charger()
    tag = await new_tag(sqlite_server)
    async with connect_charger(sqlite_server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        await charger.start_transaction(1, tag)
        refused = (await charger.start_transaction(2, tag)).transaction_id
    await log_in_as_admin(page, sqlite_server)
    await page.goto(f"/admin#/transactions/{refused}")
    facts = page.locator("#transaction-facts")
    await expect(facts.locator(".badge")).to_have_text("Refused (ConcurrentTx)")
    await facts.get_by_role("button", name="Close this session").click()
    await expect(facts.locator(".badge")).to_have_text(["Done", "Closed by staff"])
    await expect(facts.get_by_role("button", name="Close this session")).to_have_count(0)
