"""Every charger-initiated OCPP 1.6J message, answered and persisted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from csms.db.models import (
    Charger,
    ChargerEvent,
    Connector,
    DataTransferMessage,
    MeterValue,
    StatusNotification,
    Transaction,
)
from csms.services import id_tags
from csms.services.clock import utc_now
from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer
from tests.support.backends import sqlite_only_server

__all__ = ["sqlite_only_server"]  # OCPP behaviour no storage code differs on: SQLite only


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
async def charger(server: RunningServer) -> AsyncIterator[SimulatedCharger]:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as connected:
        yield connected


async def add_tag(server: RunningServer, tag: str, **options: object) -> str:
    async with server.session() as session:
        await id_tags.create_id_tag(session, id_tag=tag, now=utc_now(), **options)  # type: ignore[arg-type]
        await session.commit()
    return tag


def unique_tag(prefix: str = "TAG") -> str:
    return f"{prefix}{datetime.now(UTC).strftime('%H%M%S%f')}"[:20]


async def test_boot_notification_is_accepted_and_identity_stored(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    answer = await charger.boot(
        vendor="Acme",
        model="Wallbox 22",
        charge_point_serial_number="SN-1",
        firmware_version="1.2.3",
        meter_type="Eastron",
    )
    assert answer.status == "Accepted"
    assert answer.interval == 300
    assert abs(datetime.fromisoformat(answer.current_time) - utc_now()) < timedelta(seconds=5)
    async with server.session() as session:
        stored = await session.get(Charger, charger.id)
    assert stored is not None
    assert (
        stored.vendor,
        stored.model,
        stored.serial_number,
        stored.firmware_version,
        stored.meter_type,
    ) == (
        "Acme",
        "Wallbox 22",
        "SN-1",
        "1.2.3",
        "Eastron",
    )
    assert stored.registration_status == "Accepted"


async def test_heartbeat_answers_current_time_and_updates_last_seen(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    before = utc_now()
    answer = await charger.heartbeat()
    assert datetime.fromisoformat(answer.current_time) >= before - timedelta(seconds=1)
    await server.app_runtime.writer.flush()  # last seen is written in the background
    async with server.session() as session:
        stored = await session.get(Charger, charger.id)
    assert stored is not None and stored.last_heartbeat_at is not None and stored.last_heartbeat_at >= before


async def test_status_notification_keeps_history_and_current_status_per_connector(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    await charger.status(1, "Available")
    await charger.status(1, "Faulted", error_code="GroundFailure", info="RCD tripped", vendor_error_code="E42")
    await charger.status(2, "Preparing")
    async with server.session() as session:
        current = {
            c.connector_id: c
            for c in (await session.scalars(select(Connector).where(Connector.charge_point_id == charger.id))).all()
        }
        history = (
            await session.scalars(
                select(StatusNotification)
                .where(StatusNotification.charge_point_id == charger.id)
                .order_by(StatusNotification.id)
            )
        ).all()
    assert (current[1].status, current[1].error_code, current[1].info, current[1].vendor_error_code) == (
        "Faulted",
        "GroundFailure",
        "RCD tripped",
        "E42",
    )
    assert current[2].status == "Preparing"
    assert [(h.connector_id, h.status) for h in history] == [
        (1, "Available"),
        (1, "Faulted"),
        (2, "Preparing"),
    ]


async def test_late_status_notification_is_kept_but_does_not_override_a_newer_status(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    now = utc_now()
    await charger.status(1, "Charging", timestamp=iso(now))
    await charger.status(1, "Available", timestamp=iso(now - timedelta(minutes=10)))
    async with server.session() as session:
        current = await session.get(Connector, (charger.id, 1))
        count = len(
            (
                await session.scalars(
                    select(StatusNotification).where(StatusNotification.charge_point_id == charger.id)
                )
            ).all()
        )
    assert current is not None and current.status == "Charging"
    assert count == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "Accepted"),
        ({"status": "Blocked"}, "Blocked"),
        ({"status": "Expired"}, "Expired"),
        ({"expiry_date": datetime(2020, 1, 1, tzinfo=UTC)}, "Expired"),
    ],
)
async def test_authorize_answers_the_id_tag_status(
    server: RunningServer, charger: SimulatedCharger, options: dict[str, object], expected: str
) -> None:
    tag = await add_tag(server, unique_tag(), **options)
    answer = await charger.authorize(tag)
    assert answer.id_tag_info["status"] == expected


async def test_authorize_answers_invalid_for_an_unknown_id_tag(charger: SimulatedCharger) -> None:
    answer = await charger.authorize("NO-SUCH-TAG")
    assert answer.id_tag_info == {"status": "Invalid"}


async def test_authorize_answers_concurrent_tx_while_the_tag_is_charging(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    tag = await add_tag(server, unique_tag(), parent_id_tag="FLEET1")
    await charger.start_transaction(1, tag)
    answer = await charger.authorize(tag)
    assert answer.id_tag_info == {"status": "ConcurrentTx", "parent_id_tag": "FLEET1"}


async def test_transaction_lifecycle_stores_meter_values_and_energy(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    tag = await add_tag(server, unique_tag())
    started = await charger.start_transaction(1, tag, meter_start=1000)
    assert started.id_tag_info["status"] == "Accepted"
    await charger.meter_values(1, started.transaction_id, 1500)
    await charger.meter_values(1, started.transaction_id, 2200)
    stopped = await charger.stop_transaction(started.transaction_id, 3000, id_tag=tag, reason="EVDisconnected")
    assert stopped.id_tag_info["status"] == "Accepted"
    async with server.session() as session:
        transaction = await session.get(Transaction, started.transaction_id)
        values = (
            await session.scalars(
                select(MeterValue).where(MeterValue.transaction_id == started.transaction_id).order_by(MeterValue.id)
            )
        ).all()
    assert transaction is not None
    assert (transaction.meter_start, transaction.meter_stop, transaction.stop_reason) == (
        1000,
        3000,
        "EVDisconnected",
    )
    assert transaction.meter_stop - transaction.meter_start == 2000
    assert [(v.value, v.measurand, v.unit) for v in values] == [
        ("1500", "Energy.Active.Import.Register", "Wh"),
        ("7400", "Power.Active.Import", "W"),
        ("2200", "Energy.Active.Import.Register", "Wh"),
        ("7400", "Power.Active.Import", "W"),
    ]


async def test_transaction_ids_are_unique_and_increasing(server: RunningServer, charger: SimulatedCharger) -> None:
    ids = []
    for connector in (1, 2, 3):
        tag = await add_tag(server, unique_tag())
        ids.append((await charger.start_transaction(connector, tag)).transaction_id)
    assert len(set(ids)) == 3 and ids == sorted(ids)


async def test_start_transaction_rechecks_the_id_tag_on_the_server(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    blocked = await add_tag(server, unique_tag(), status="Blocked")
    started = await charger.start_transaction(1, blocked)
    assert started.id_tag_info["status"] == "Blocked"
    unknown = await charger.start_transaction(2, "NOT-A-TAG")
    assert unknown.id_tag_info["status"] == "Invalid"
    assert unknown.transaction_id != started.transaction_id


async def test_resent_identical_start_transaction_gets_the_same_transaction_id(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    tag = await add_tag(server, unique_tag())
    timestamp = iso(utc_now() - timedelta(minutes=3))
    first = await charger.start_transaction(1, tag, meter_start=42, timestamp=timestamp)
    again = await charger.start_transaction(1, tag, meter_start=42, timestamp=timestamp)
    assert again.transaction_id == first.transaction_id
    assert again.id_tag_info["status"] == "Accepted"


async def test_stop_transaction_with_transaction_data_stores_those_meter_values(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    started = await charger.start_transaction(1, await add_tag(server, unique_tag()), meter_start=0)
    data = [
        {
            "timestamp": iso(utc_now()),
            "sampledValue": [{"value": "750", "context": "Transaction.End", "unit": "Wh"}],
        }
    ]
    await charger.stop_transaction(started.transaction_id, 750, transaction_data=data)
    async with server.session() as session:
        values = (
            await session.scalars(select(MeterValue).where(MeterValue.transaction_id == started.transaction_id))
        ).all()
    assert [(v.value, v.context) for v in values] == [("750", "Transaction.End")]


async def test_stop_transaction_of_another_charger_is_answered_and_changes_nothing(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    tag = await add_tag(server, unique_tag())
    started = await charger.start_transaction(1, tag, meter_start=10)
    intruder_id = await server.add_charger()
    async with connect_charger(server.ws_url, intruder_id, CHARGER_PASSWORD) as intruder:
        answer = await intruder.stop_transaction(started.transaction_id, 99999)
        unknown = await intruder.stop_transaction(987654321, 5, id_tag=tag)
    assert answer.id_tag_info is None
    assert unknown.id_tag_info["status"] == "ConcurrentTx"
    async with server.session() as session:
        transaction = await session.get(Transaction, started.transaction_id)
    assert transaction is not None and transaction.stop_timestamp is None and transaction.meter_stop is None


async def test_meter_values_naming_another_chargers_transaction_are_not_linked_to_it(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    started = await charger.start_transaction(1, await add_tag(server, unique_tag()))
    intruder_id = await server.add_charger()
    async with connect_charger(server.ws_url, intruder_id, CHARGER_PASSWORD) as intruder:
        await intruder.meter_values(1, started.transaction_id, 123456)
    async with server.session() as session:
        linked = (
            await session.scalars(select(MeterValue).where(MeterValue.transaction_id == started.transaction_id))
        ).all()
        kept = (await session.scalars(select(MeterValue).where(MeterValue.charge_point_id == intruder_id))).all()
    assert linked == []
    assert [v.value for v in kept] == ["123456", "7400"]


async def test_late_meter_values_are_stored_in_timestamp_order(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    started = await charger.start_transaction(1, await add_tag(server, unique_tag()))
    now = utc_now()
    await charger.meter_values(1, started.transaction_id, 300, timestamp=iso(now))
    await charger.meter_values(1, started.transaction_id, 100, timestamp=iso(now - timedelta(minutes=20)))
    await charger.meter_values(1, started.transaction_id, 200, timestamp=iso(now - timedelta(minutes=10)))
    async with server.session() as session:
        from csms.services.transactions import energy_wh, list_meter_values

        values = await list_meter_values(session, started.transaction_id)
        transaction = await session.get(Transaction, started.transaction_id)
    energy = [v.value for v in values if v.measurand == "Energy.Active.Import.Register"]
    assert energy == ["100", "200", "300"]
    assert transaction is not None and energy_wh(transaction) == 300


async def test_data_transfer_is_stored_and_answered_unknown_vendor(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    from ocpp.v16 import call

    answer = await charger.call(call.DataTransfer(vendor_id="com.acme", message_id="diag", data='{"t": 41}'))
    assert answer.status == "UnknownVendorId"
    async with server.session() as session:
        stored = (
            await session.scalars(select(DataTransferMessage).where(DataTransferMessage.charge_point_id == charger.id))
        ).one()
    assert (stored.vendor_id, stored.message_id, stored.data) == ("com.acme", "diag", '{"t": 41}')


async def test_firmware_and_diagnostics_status_notifications_are_tracked(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    from ocpp.v16 import call

    await charger.call(call.FirmwareStatusNotification(status="Downloading"))
    await charger.call(call.FirmwareStatusNotification(status="Installed"))
    await charger.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    async with server.session() as session:
        stored = await session.get(Charger, charger.id)
        events = (
            await session.scalars(
                select(ChargerEvent).where(ChargerEvent.charge_point_id == charger.id).order_by(ChargerEvent.id)
            )
        ).all()
    assert stored is not None
    assert (stored.firmware_status, stored.diagnostics_status) == ("Installed", "Uploaded")
    assert [(e.kind, e.status) for e in events] == [
        ("firmware", "Downloading"),
        ("firmware", "Installed"),
        ("diagnostics", "Uploaded"),
    ]


async def test_transaction_ids_are_never_reused_even_after_the_newest_is_deleted(
    server: RunningServer, charger: SimulatedCharger
) -> None:
    from sqlalchemy import delete

    newest = (await charger.start_transaction(1, "REUSE-CHECK")).transaction_id
    async with server.session() as session:
        await session.execute(delete(MeterValue).where(MeterValue.transaction_id == newest))
        await session.execute(delete(Transaction).where(Transaction.id == newest))
        await session.commit()
    again = (await charger.start_transaction(2, "REUSE-CHECK-2")).transaction_id
    assert again > newest
