"""One test charger, any OCPP version (2.1 drives the 2.0.1 story: its messages are the same): the suite's shared behaviour tests drive a charger through this,
parametrised by version, and assert what the app and the operator see, which must not depend on it.

Each driver does what a real charger of its version does for the same story (boot, report a connector,
answer the app's start by starting a transaction, send meter values, end the transaction on the app's
stop) and says what the charger was asked, in the version's own words, as the shared shape `StartAsked`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from csms.simulator.charger import SimulatedCharger, connect_charger
from csms.simulator.station201 import SimulatedStation, StationTransaction, connect_station
from tests.conftest import CHARGER_PASSWORD

VERSIONS = ("1.6", "2.0.1", "2.1")


@dataclass(frozen=True)
class StartAsked:
    """The app's start as the charger received it: the token, and the connector (1.6) or EVSE (2.0.1)."""

    id_token: str
    connector_id: int


class DrivenCharger(Protocol):
    version: str

    async def boot_and_report(self, connector_id: int) -> None: ...

    async def report(self, connector_id: int, status: str) -> None:
        """A StatusNotification of the connector (1.6) or of the EVSE's connector 1 (2.0.1)."""

    async def start_asked(self) -> StartAsked: ...

    async def start(self, asked: StartAsked, *, meter_wh: int, at: str) -> None: ...

    async def meter(self, energy_wh: int, *, at: str) -> None: ...

    async def stop_asked(self) -> None:
        """Wait for the app's stop, and check it names the running transaction."""

    async def stop(self, energy_wh: int, *, at: str) -> None: ...


class Charger16:
    version = "1.6"

    def __init__(self, charger: SimulatedCharger) -> None:
        self._charger = charger
        self._transaction_id: int | None = None
        self._connector_id = 0

    async def boot_and_report(self, connector_id: int) -> None:
        assert (await self._charger.boot()).status == "Accepted"
        await self.report(connector_id, "Available")

    async def report(self, connector_id: int, status: str) -> None:
        error_code = "OtherError" if status == "Faulted" else "NoError"
        await self._charger.status(connector_id, status, error_code=error_code)

    async def start_asked(self) -> StartAsked:
        payload = (await self._charger.wait_for_call("RemoteStartTransaction")).payload
        return StartAsked(payload["id_tag"], payload["connector_id"])

    async def start(self, asked: StartAsked, *, meter_wh: int, at: str) -> None:
        self._connector_id = asked.connector_id
        started = await self._charger.start_transaction(
            asked.connector_id, asked.id_token, meter_start=meter_wh, timestamp=at
        )
        assert started.id_tag_info["status"] == "Accepted"
        self._transaction_id = started.transaction_id

    async def meter(self, energy_wh: int, *, at: str) -> None:
        await self._charger.meter_values(self._connector_id, self._transaction_id, energy_wh, timestamp=at)

    async def stop_asked(self) -> None:
        payload = (await self._charger.wait_for_call("RemoteStopTransaction")).payload
        assert payload == {"transaction_id": self._transaction_id}

    async def stop(self, energy_wh: int, *, at: str) -> None:
        assert self._transaction_id is not None
        await self._charger.stop_transaction(self._transaction_id, energy_wh, timestamp=at, reason="Remote")


class Station201:
    """A 2.0.1 station, or a 2.1 one: the same messages, checked against the station's own version."""

    def __init__(self, station: SimulatedStation) -> None:
        self.version = station.ocpp_version
        self._station = station
        self._transaction: StationTransaction | None = None

    async def boot_and_report(self, connector_id: int) -> None:
        assert (await self._station.boot()).status == "Accepted"
        await self.report(connector_id, "Available")

    async def report(self, connector_id: int, status: str) -> None:
        await self._station.status(connector_id, status)

    async def start_asked(self) -> StartAsked:
        payload = (await self._station.wait_for_call("RequestStartTransaction")).payload
        assert payload["id_token"]["type"] == "Central"  # the app's own token
        self._remote_start_id = payload["remote_start_id"]
        return StartAsked(payload["id_token"]["id_token"], payload["evse_id"])

    async def start(self, asked: StartAsked, *, meter_wh: int, at: str) -> None:
        token = {"idToken": asked.id_token, "type": "Central"}
        self._transaction = self._station.new_transaction(
            asked.connector_id, token, remote_start_id=self._remote_start_id
        )
        started = await self._station.transaction_event(
            self._transaction,
            "Started",
            "RemoteStart",
            energy_wh=meter_wh,
            context="Transaction.Begin",
            charging_state="Charging",
            timestamp=at,
        )
        assert started.id_token_info["status"] == "Accepted"

    async def meter(self, energy_wh: int, *, at: str) -> None:
        assert self._transaction is not None
        await self._station.transaction_event(
            self._transaction, "Updated", "MeterValuePeriodic", energy_wh=energy_wh, timestamp=at
        )

    async def stop_asked(self) -> None:
        assert self._transaction is not None
        payload = (await self._station.wait_for_call("RequestStopTransaction")).payload
        assert payload == {"transaction_id": self._transaction.transaction_id}

    async def stop(self, energy_wh: int, *, at: str) -> None:
        assert self._transaction is not None
        await self._station.transaction_event(
            self._transaction,
            "Ended",
            "RemoteStop",
            energy_wh=energy_wh,
            context="Transaction.End",
            stopped_reason="Remote",
            timestamp=at,
        )


@contextlib.asynccontextmanager
async def connect_either(version: str, ws_url: str, charger_id: str) -> AsyncIterator[DrivenCharger]:
    """A charger of `version` connected to csms at `ws_url` with the suite's charger password."""
    if version == "1.6":
        async with connect_charger(ws_url, charger_id, CHARGER_PASSWORD) as charger:
            yield Charger16(charger)
    else:
        async with connect_station(ws_url, charger_id, CHARGER_PASSWORD, ocpp_version=version) as station:
            yield Station201(station)
