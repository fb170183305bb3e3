"""A connector's state as csms knows it, whatever OCPP version reported it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """A connector's newest status (1.6 ChargePointStatus, 2.x ConnectorStatusEnumType), and when the charger
    says it began."""

    status: str
    since: datetime
