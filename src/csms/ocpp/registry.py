"""Which chargers hold a WebSocket on this node."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from csms.ocpp.rpc import RpcSession


class ConnectionRegistry:
    def __init__(self) -> None:
        self._sessions: dict[str, RpcSession] = {}

    def register(self, session: RpcSession) -> RpcSession | None:
        """Make `session` the charger's connection; return the one it replaces, if any."""
        previous = self._sessions.get(session.id)
        self._sessions[session.id] = session
        return previous

    def unregister(self, session: RpcSession) -> bool:
        """Forget `session` unless a newer connection of the same charger replaced it already."""
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
            return True
        return False

    def get(self, charge_point_id: str) -> RpcSession | None:
        return self._sessions.get(charge_point_id)

    def is_connected(self, charge_point_id: str) -> bool:
        return charge_point_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def all(self) -> list[RpcSession]:
        return list(self._sessions.values())
