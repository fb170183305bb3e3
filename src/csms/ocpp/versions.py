"""The OCPP versions csms speaks, newest first, and what each one brings: its RPC description, its
station, the calls the central system may send and the spelling of csms's commands.

A charger picks its version when it connects (the WebSocket subprotocol); everything after that
asks its session's version, never `if version` in the layers above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from csms.domain.commands import ChargerCommand
from csms.ocpp import v16, v21, v201
from csms.ocpp.rpc import OcppVersion, Payload
from csms.ocpp.station import Station
from csms.ocpp.v16 import commands as v16_commands
from csms.ocpp.v21 import commands as v21_commands
from csms.ocpp.v201 import commands as v201_commands

if TYPE_CHECKING:
    from csms.runtime import Runtime


@dataclass(frozen=True, slots=True)
class SupportedVersion:
    rpc: OcppVersion
    new_station: Callable[[str, Runtime], Station]
    central_system_actions: frozenset[str]
    spell: Callable[[ChargerCommand], tuple[str, Payload]]
    read_answer: Callable[[ChargerCommand, Payload], Payload]
    # An operator's own call read as the command it is, when csms keeps what such a command changes.
    read_call: Callable[[str, Payload], ChargerCommand | None]

    @property
    def name(self) -> str:
        return self.rpc.name

    @property
    def subprotocol(self) -> str:
        return self.rpc.subprotocol


# 2.1 spells csms's commands as 2.0.1 does, and its station's tariff; it reads answers alike.
OCPP21 = SupportedVersion(
    rpc=v21.OCPP21,
    new_station=v21.Station21,
    central_system_actions=v21.CENTRAL_SYSTEM_ACTIONS,
    spell=v21_commands.spell,
    read_answer=v21_commands.read_answer,
    read_call=v21_commands.read_call,
)
OCPP201 = SupportedVersion(
    rpc=v201.OCPP201,
    new_station=v201.Station201,
    central_system_actions=v201.CENTRAL_SYSTEM_ACTIONS,
    spell=v201_commands.spell,
    read_answer=v201_commands.read_answer,
    read_call=v201_commands.read_call,
)
OCPP16 = SupportedVersion(
    rpc=v16.OCPP16,
    new_station=v16.Station16,
    central_system_actions=v16.CENTRAL_SYSTEM_ACTIONS,
    spell=v16_commands.spell,
    read_answer=v16_commands.read_answer,
    read_call=v16_commands.read_call,
)
NEWEST_FIRST = (OCPP21, OCPP201, OCPP16)
# The versions whose chargers are 2.x stations (EVSEs, the device model, TransactionEvents).
OCPP2_NAMES = frozenset({OCPP21.name, OCPP201.name})
_BY_NAME = {version.name: version for version in NEWEST_FIRST}


def negotiate(offered: Iterable[str]) -> SupportedVersion | None:
    """The newest version among the subprotocols a charger offers; None when csms speaks none of them."""
    offers = set(offered)
    return next((version for version in NEWEST_FIRST if version.subprotocol in offers), None)


def supported(name: str) -> SupportedVersion:
    """The version a session speaks, by its name ("1.6", "2.0.1", "2.1")."""
    return _BY_NAME[name]


def subprotocols() -> list[str]:
    return [version.subprotocol for version in NEWEST_FIRST]
