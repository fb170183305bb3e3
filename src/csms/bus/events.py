"""Live events: what happened at a charger, published on the bus for every node's live views."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from csms.bus import Bus, event_subject

logger = logging.getLogger(__name__)

EVENTS_PATTERN = "csms.events.>"


class Events:
    def __init__(self, bus: Bus, *, node_id: str, clock: Callable[[], datetime]) -> None:
        self._bus = bus
        self._node_id = node_id
        self._clock = clock

    async def publish(self, kind: str, **fields: Any) -> None:
        """Announce an event; a bus that is down loses the event, never the charger's answer."""
        message = {"kind": kind, "at": self._clock().isoformat(), "node": self._node_id, **fields}
        try:
            await self._bus.publish(event_subject(kind), message)
        except Exception:
            logger.warning("could not publish a %s event", kind, exc_info=True)
