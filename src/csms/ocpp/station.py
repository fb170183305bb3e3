"""What every version's station shares: one charger's connection as its handlers see it.

A version package's station (`v16.Station16`, `v201.Station201`) turns that version's payloads into
domain values and back; this base keeps the ports they use and the bookkeeping that follows a
transaction's start and end, which is the same in every version.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.domain.connectors import ConnectorState
from csms.ocpp.rpc import ErrorKind, Payload, RpcError
from csms.services import (
    certificate_revocation,
    certificates,
    chargers,
    charging,
    diagnostics,
    firmware,
    reservations,
    security_log,
    transactions,
)
from csms.services.certificate_authority import CertificateRequestRefused, load_authority
from csms.services.certificate_requests import UnsolicitedRequest
from csms.services.clock import format_ocpp_timestamp
from csms.services.id_tags import IdTagInfo

if TYPE_CHECKING:
    from csms.runtime import Runtime


logger = logging.getLogger(__name__)

# What a charger answered Pending or Rejected may still send (1.6 §4.2; 2.0.1 B01.FR.10, B02.FR.09).
_BEFORE_ACCEPTANCE = frozenset({"BootNotification"})
# What a charger is told when a message cannot be handled while the database is away (InternalError).
DATABASE_AWAY = "the database is unreachable; send this again later"


class Station:
    __slots__ = ("_connector_states", "_runtime", "_stored_connectors", "id", "registration", "reported_connectors")

    def __init__(self, charge_point_id: str, runtime: Runtime) -> None:
        self.id = charge_point_id
        self._runtime = runtime
        # What csms answered this connection's last BootNotification; None before one.
        self.registration: str | None = None
        # Connectors (1.6) or EVSEs (2.x), 1 and up, the charger reported on this connection: remote
        # starts check them here.
        self.reported_connectors: set[int] = set()
        # Those csms stored before any was reported here, once a remote start needed them.
        self._stored_connectors: frozenset[int] | None = None
        # The newest status each connector reported on this connection, for remote starts.
        self._connector_states: dict[int, ConnectorState] = {}

    def connector_state(self, connector_id: int) -> ConnectorState | None:
        """The connector's newest status reported on this connection; None before one."""
        return self._connector_states.get(connector_id)

    def _note_status(self, report: chargers.StatusReport) -> None:
        # Chargers send queued notifications late: an older one never replaces a newer status.
        known = self._connector_states.get(report.connector_id)
        if known is None or known.since <= report.timestamp:
            self._connector_states[report.connector_id] = ConnectorState(report.status, report.timestamp)

    async def known_connectors(self) -> Collection[int]:
        """The connectors a remote start may name: those reported on this connection; before any,
        those stored from earlier connections.

        The stored ones are read once per connection: only the charger's own StatusNotifications add
        connectors (none is ever deleted), and from its first one here `reported_connectors` answers.
        """
        if self.reported_connectors:
            return self.reported_connectors
        if self._stored_connectors is None:
            async with self._session() as session:
                self._stored_connectors = await charging.stored_connectors(session, self.id)
        return self._stored_connectors

    async def _boot(self, boot: chargers.BootInfo, *, ocpp_version: str, now: datetime) -> Payload:
        """Record a BootNotification and answer it as the operator chose (`boot_answer`): with the heartbeat
        interval when accepted, else the time before the charger boots again. A boot after an install
        confirms the rollout's version (one database session for both reads)."""
        async with self._session() as session:
            self.registration = await chargers.boot_answer(session, self.id)
            await firmware.confirm_version(session, self.id, boot.firmware_version, now=now)
        await chargers.record_boot(
            self._runtime.writer, self.id, boot, now=now, ocpp_version=ocpp_version, answered=self.registration
        )
        await self._publish(
            "charger_booted", vendor=boot.vendor, model=boot.model, firmware_version=boot.firmware_version
        )
        settings = self._runtime.settings
        accepted = self.registration == chargers.BOOT_ACCEPTED
        if accepted:
            self._runtime.session_watch.charger_booted(self.id)
        interval = settings.heartbeat_interval if accepted else settings.boot_retry_interval
        return {"currentTime": format_ocpp_timestamp(now), "interval": interval, "status": self.registration}

    async def _consume_reservation(self, reservation_id: int, transaction_id: int) -> None:
        """A transaction began on the reservation: it is used up."""
        async with self._session() as session:
            await reservations.consume_reservation(
                session,
                charge_point_id=self.id,
                reservation_id=reservation_id,
                transaction_id=transaction_id,
                now=self._now(),
            )

    async def _security_event(self, kind: str, tech_info: str | None, timestamp: datetime) -> None:
        """A SecurityEventNotification (the same in 1.6's security extensions and 2.0.1): kept, logged when
        critical, and published to staff."""
        is_critical = await security_log.record_charger_event(
            self._runtime.writer,
            charge_point_id=self.id,
            kind=kind,
            tech_info=tech_info,
            timestamp=timestamp,
            now=self._now(),
        )
        if is_critical:
            logger.warning("critical security event from charger %s: %s (%s)", self.id, kind, tech_info)
        await self._publish("security_event", type=kind, tech_info=tech_info, critical=is_critical)

    async def heartbeat(self, payload: Payload) -> Payload:
        """Heartbeat, the same in every version: last seen, and the time."""
        now = self._now()
        chargers.record_heartbeat(self._runtime.writer, self.id, now=now)
        return {"currentTime": format_ocpp_timestamp(now)}

    def refuse_before_acceptance(self, action: str) -> None:
        """A charger answered Pending or Rejected on this connection sends nothing but a new boot: OCPP-J's
        SecurityError. A connection with no boot yet is not refused: a charger that reconnects does not
        boot again (2.0.1 part 4 §5.4)."""
        if self.registration in (None, chargers.BOOT_ACCEPTED) or action in _BEFORE_ACCEPTANCE:
            return
        raise RpcError.because(
            ErrorKind.SECURITY, f"{action} refused: csms answered this charger's boot {self.registration}"
        )

    def answer_to_failure(self, error: Exception) -> RpcError | None:
        """A database that does not answer (down, or every connection busy) is no bug of the handler: the
        charger is told to send the message again later, as OCPP 1.6 §4.10 and 2.0.1 say for InternalError."""
        if isinstance(error, DATABASE_UNREACHABLE):
            return RpcError(ErrorKind.INTERNAL, DATABASE_AWAY)
        return None

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self._runtime.session_factory() as session:
            yield session

    def _now(self) -> datetime:
        return self._runtime.clock()

    async def _publish(self, kind: str, **fields: Any) -> None:
        await self._runtime.events.publish(kind, charge_point_id=self.id, **fields)

    async def _note_started(
        self,
        ref: transactions.TransactionRef,
        info: IdTagInfo,
        *,
        id_tag: str,
        started_at: datetime,
        is_repeat: bool = False,
    ) -> None:
        """Price, budget and announce a transaction the charger started (or told again)."""
        watch = self._runtime.session_watch
        # A refused start (ConcurrentTx, Blocked...) is no charging session to price, budget or announce.
        if ref.is_accepted and is_repeat:
            watch.transaction_seen(ref)
        elif ref.is_accepted:
            watch.transaction_started(ref, id_tag=id_tag, started_at=started_at)
        await self._publish(
            "transaction_started",
            connector_id=ref.connector_id,
            transaction_id=ref.id,
            user_id=ref.user_id,
            id_tag_status=info.status,
        )

    async def _stopped(self, closed: transactions.ClosedTransaction, *, price_now: bool = False) -> Decimal | None:
        """Price, budget and announce a transaction the charger stopped; with `price_now`, its final cost
        is priced before this returns (None without a tariff), else in the background."""
        watch = self._runtime.session_watch
        cost = None
        if price_now:
            cost = await watch.price_stopped(closed)
        else:
            watch.transaction_stopped(closed)
        await self._publish(
            "transaction_stopped",
            connector_id=closed.connector_id,
            transaction_id=closed.id,
            user_id=closed.user_id,
            energy_wh=closed.energy_wh,
            closed_by=closed.closed_by,
        )
        return cost

    async def _published_meter_values(
        self, transaction: transactions.TransactionRef, connector_id: int, samples: list[transactions.MeterSample]
    ) -> Any:
        """Tell the session watch and the live stream of new readings; the cost so far, if priced."""
        watch = self._runtime.session_watch
        cost_so_far = await watch.meter_values(transaction, samples) if transaction.is_accepted else None
        await self._publish(
            "meter_values",
            connector_id=connector_id,
            transaction_id=transaction.id,
            user_id=transaction.user_id,
            energy_wh=transaction.energy_wh,
            power_w=transactions.latest_power_w(samples),
            cost_so_far=cost_so_far,
        )
        return cost_so_far

    async def _record_request_progress(self, kind: str, status: str, request_id: int | None) -> None:
        """Signed firmware or log progress: the charger's status, and the rollout or request it names."""
        record_progress = firmware.record_progress if kind == "firmware" else diagnostics.record_progress
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind=kind, status=status, now=self._now())
            await record_progress(session, self.id, status, now=self._now(), request_id=request_id)
        await self._publish(f"{kind}_status", status=status, request_id=request_id)

    async def sign_certificate(self, payload: Payload) -> Payload:
        """SignCertificate (1.6 security whitepaper, 2.0.1 A02/A03): csms signs the CSR as the operator's CA
        and sends CertificateSigned once this answer is on its way; both versions spell them alike."""
        runtime = self._runtime
        try:
            async with self._session() as session:
                certificate_id = await certificates.sign_for_charger(
                    session,
                    self.id,
                    payload["csr"],
                    authority=load_authority(runtime.settings.ca_certfile, runtime.settings.ca_keyfile),
                    identity=runtime.settings.charger_certificate_identity,
                    organization=runtime.settings.certificate_organization,
                    valid_for=timedelta(days=runtime.settings.charger_certificate_days),
                    now=self._now(),
                )
        except CertificateRequestRefused as refused:
            # Counted per period: a charger (or whoever has its password) can send these at will.
            kind = "csr_unsolicited" if isinstance(refused, UnsolicitedRequest) else "csr_refused"
            runtime.security_events.record(kind=kind, charge_point_id=self.id, remote_address=None, detail=str(refused))
            return {"status": "Rejected"}
        # Sent once this answer is on its way: never awaited here, where the receive loop waits.
        delivery = certificate_revocation.deliver_renewal(
            runtime.session_factory,
            runtime.commands.send,
            self.id,
            certificate_id,
            grace=timedelta(seconds=runtime.settings.certificate_renewal_grace),
            clock=runtime.clock,
        )
        runtime.background.spawn(delivery, name=f"certificate-signed-{self.id}")
        return {"status": "Accepted"}
