"""One socket per charger across all nodes: a charger that connects anywhere closes its older socket.

Which socket is older is decided by the sequence each got from the database (ocpp/presence.py), never
by the order announcements arrive in: two nodes that announce at the same moment agree on the one to
close. What an announcement lost on the bus misses, the next lease renewal catches.
"""

from __future__ import annotations

import logging

from csms.bus import Bus, Message, connected_subject
from csms.bus.follower import Follower
from csms.ocpp.registry import ConnectionRegistry

logger = logging.getLogger(__name__)

CLOSE_REPLACED = 4000  # application range: a newer connection of the same charger took over
CLOSE_REVOKED = 4002  # the certificate the charger may have connected with was revoked: reconnect, be checked


class TakeoverWatcher:
    """Tells other nodes when a charger connects here, and closes local sockets that others replaced."""

    def __init__(self, registry: ConnectionRegistry, bus: Bus, *, node_id: str) -> None:
        self._registry = registry
        self._bus = bus
        self._node_id = node_id
        self._follower = Follower(bus, "csms.connections.*", self._close_if_replaced)

    async def start(self) -> None:
        await self._follower.start()

    async def close(self) -> None:
        await self._follower.close()

    async def announce(self, charge_point_id: str, connection_id: str, sequence: int) -> None:
        message = {
            "charge_point_id": charge_point_id,
            "node": self._node_id,
            "connection": connection_id,
            "sequence": sequence,
        }
        await self._bus.publish(connected_subject(charge_point_id), message)

    async def end_everywhere(self, charge_point_id: str) -> None:
        """Close the charger's socket on whichever node holds it, so its next connection is checked again
        (a certificate was revoked)."""
        session = self._registry.get(charge_point_id)
        if session is not None:
            await session.close(code=CLOSE_REVOKED, reason="certificate revoked")
        message = {"charge_point_id": charge_point_id, "node": self._node_id, "end": True}
        await self._bus.publish(connected_subject(charge_point_id), message)

    async def _close_if_replaced(self, message: Message) -> None:
        if message.get("node") == self._node_id:
            return  # a reconnect to this node replaced its socket in the registry already
        session = self._registry.get(str(message.get("charge_point_id")))
        if session is not None and message.get("end") is True:
            logger.info(
                "charger %s: its certificate was revoked on node %s; closing its socket",
                session.id,
                message.get("node"),
            )
            await session.close(code=CLOSE_REVOKED, reason="certificate revoked")
            return
        sequence = message.get("sequence")
        if session is None or session.connection_id == message.get("connection") or not isinstance(sequence, int):
            return
        if session.sequence is None:  # still being recorded: compared once it has its own sequence
            session.rival_sequence = max(session.rival_sequence, sequence)
        elif sequence > session.sequence:
            logger.info("charger %s reconnected on node %s; closing its socket here", session.id, message.get("node"))
            await session.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
