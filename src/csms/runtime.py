"""Everything one running csms node holds: settings, database, bus, message log, connected chargers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from csms.bus import Bus
from csms.bus.events import Events
from csms.config import Settings
from csms.db.batch_writer import DATABASE_UNREACHABLE, BatchWriter
from csms.db.cluster_clock import ClusterClock
from csms.db.database_file import DatabaseFile
from csms.ftp.server import FtpServers
from csms.observability.certificate_expiry import CertificateWatch
from csms.observability.metrics import Metrics
from csms.ocpi.client import OcpiClient
from csms.ocpi.push import OcpiPusher
from csms.ocpp.commands import CommandRouter
from csms.ocpp.presence import PresenceKeeper
from csms.ocpp.registry import ConnectionRegistry
from csms.ocpp.takeover import TakeoverWatcher
from csms.security import ChargerPasswordVerifier
from csms.services.accounts import TokenPolicy
from csms.services.background import BackgroundTasks
from csms.services.clock import utc_now
from csms.services.file_links import FileLinks
from csms.services.file_store import FileStore
from csms.services.iso15118 import CertificateProvider
from csms.services.local_list import LocalListPusher
from csms.services.login_cache import LoginCache
from csms.services.login_throttle import LoginThrottle, SignupThrottle
from csms.services.message_log import MessageLog
from csms.services.outage_reserves import RecentTags, TransactionIdReserve
from csms.services.security_log import RepeatedEvents
from csms.services.session_watch import SessionWatch
from csms.services.tag_directory import TagDirectory

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    # On SQLite, the file opened at start, to tell when it is deleted or replaced under the node.
    database_file: DatabaseFile | None
    session_factory: async_sessionmaker[AsyncSession]
    message_log: MessageLog
    writer: BatchWriter
    token_policy: TokenPolicy
    login_throttle: LoginThrottle
    signup_throttle: SignupThrottle
    charger_auth_throttle: LoginThrottle
    logins: LoginCache
    sticker_key: bytes
    # Signs the firmware and diagnostics links chargers get (services/signed_urls.py).
    file_url_key: bytes
    files: FileStore
    local_lists: LocalListPusher
    bus: Bus
    events: Events
    commands: CommandRouter
    registry: ConnectionRegistry
    takeover: TakeoverWatcher
    # Cost so far, budgets and notifications that follow chargers' messages (services/session_watch.py).
    session_watch: SessionWatch
    node_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    charger_verifier: ChargerPasswordVerifier = field(default_factory=ChargerPasswordVerifier)
    clock: Callable[[], datetime] = utc_now
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    metrics: Metrics = field(default_factory=Metrics)
    # For starting transactions while the database is unreachable (services/outage_reserves.py).
    transaction_ids: TransactionIdReserve = field(default_factory=TransactionIdReserve)
    recent_tags: RecentTags = field(default_factory=RecentTags)
    # idTags as Authorize and StartTransaction need them, kept in memory (services/tag_directory.py).
    tags: TagDirectory = field(kw_only=True)
    # The firmware and diagnostics links chargers get: http(s), or ftp(s) once the FTP servers run.
    file_links: FileLinks = field(kw_only=True)
    ftp: FtpServers | None = field(default=None, kw_only=True)
    # The database's clock, which deadlines of calls between nodes are set in (db/cluster_clock.py).
    cluster_clock: ClusterClock | None = field(default=None, kw_only=True)
    # Refused and throttled connection attempts and frames over budget, counted per period.
    security_events: RepeatedEvents = field(kw_only=True)
    # The server certificate and the operator's CA, for expiry warnings (observability/certificate_expiry.py).
    certificates: CertificateWatch = field(kw_only=True)
    # This node's sockets recorded in the database under leases, and the rule of who owns a charger.
    presence: PresenceKeeper = field(kw_only=True)
    # Who answers ISO 15118 Plug & Charge requests: csms's own CA or an external PKI (services/iso15118.py).
    iso15118: CertificateProvider = field(kw_only=True)
    # csms's requests to OCPI parties (eMSPs, hubs): one connection pool (ocpi/client.py).
    ocpi_client: OcpiClient = field(kw_only=True)
    # What csms pushes to OCPI parties (EVSE statuses, Locations, Tariffs), through the outbox (ocpi/push.py).
    ocpi_push: OcpiPusher = field(kw_only=True)

    async def next_transaction_id(self) -> int:
        """A new transaction id from this node's reserve, topped up in the background before it runs out.

        Raises one of DATABASE_UNREACHABLE when the reserve is empty and the database cannot fill it.
        """
        transaction_id = self.transaction_ids.take()
        while transaction_id is None:
            await self.transaction_ids.refill(self.writer.transaction)
            transaction_id = self.transaction_ids.take()
        if self.transaction_ids.needs_refill:
            self.background.spawn(self.refill_transaction_ids(), name="transaction-id-reserve")
        return transaction_id

    async def refill_transaction_ids(self) -> None:
        """Top up the reserve of transaction ids; if the database is away, the next start tries again."""
        try:
            await self.transaction_ids.refill(self.writer.transaction)
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not reserve transaction ids: %s", type(error).__name__)
