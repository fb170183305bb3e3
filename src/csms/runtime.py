"""Everything one running csms node holds: settings, database, message log, connected chargers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from csms.config import Settings
from csms.ocpp.registry import ConnectionRegistry
from csms.security import ChargerPasswordVerifier
from csms.services.accounts import TokenPolicy
from csms.services.clock import utc_now
from csms.services.login_throttle import LoginThrottle
from csms.services.message_log import MessageLog


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    message_log: MessageLog
    token_policy: TokenPolicy
    login_throttle: LoginThrottle
    sticker_key: bytes
    registry: ConnectionRegistry = field(default_factory=lambda: ConnectionRegistry())
    charger_verifier: ChargerPasswordVerifier = field(default_factory=ChargerPasswordVerifier)
    clock: Callable[[], datetime] = utc_now
