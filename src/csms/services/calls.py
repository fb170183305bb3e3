"""How business rules send a call to a charger without knowing the gateway (CommandRouter.send)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from csms.domain.commands import ChargerCommand

# (charge_point_id, action, camelCase payload) → the charger's camelCase answer; raises when it cannot.
Send = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
# Carries out a version-neutral command (domain.commands) on a charger, wherever it is connected.
SendCommand = Callable[[str, ChargerCommand], Awaitable[dict[str, Any]]]
