"""What follows a charger's messages for drivers and operators: cost, budgets and notifications.

The OCPP handlers call one method here after their own service call. Every method returns at once:
the work (database reads, webhook deliveries, commands) runs as background tasks, so a charger's
answer never waits on it.

Drivers are told, on the live stream (their `user_id`) and through webhooks, when charging starts
(`charging_started`), is suspended by the car (`charging_suspended`: SuspendedEV on the connector of
their open transaction), finishes (`charging_finished`, with its cost and `closed_by`: "charger", or
"superseded" or "staff" when csms closed a transaction its charger never stopped) or fails (`charging_failed`: the
connector Faulted during the transaction, or it stopped for EmergencyStop, PowerLoss, Reboot,
HardReset or SoftReset). Operators get `charger_fault` (Faulted, or an errorCode other than NoError),
`station_event` (what a 2.x station reported in NotifyEvent: a monitor that tripped or cleared, a
hard-wired fault) and `charger_offline` (the socket closed, or nothing heard from it for
MISSED_HEARTBEATS heartbeat intervals: any message is a sign of life, OCPP 1.6 §4.6).

Site load management hears of the same moments (services/site_load.py): starts, stops, draws, chargers
that booted or went away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.bus import Bus
from csms.db.batch_writer import DATABASE_ERRORS
from csms.db.change_counters import WEBHOOKS
from csms.db.models import Tariff, Transaction, Webhook
from csms.services import session_costs, tariffs, webhooks
from csms.services.background import BackgroundTasks
from csms.services.chargers import StatusReport
from csms.services.id_tags import ACCEPTED
from csms.services.live_costs import LiveCosts, Publish
from csms.services.shared_cache import SharedTable
from csms.services.site_load import SiteLoadManager
from csms.services.transactions import ClosedTransaction, MeterSample, TransactionRef
from csms.services.webhook_delivery import WebhookDispatcher

logger = logging.getLogger(__name__)

# An event's fields as services/station_events.py gives them.
StationEventFields = dict[str, Any]
FAILURE_STOP_REASONS = frozenset({"EmergencyStop", "PowerLoss", "Reboot", "HardReset", "SoftReset"})
MISSED_HEARTBEATS = 3


class RoamingFeed(Protocol):
    """Who tells roaming partners of chargers' status (csms/ocpi/push.py); both return at once."""

    def evse_status(self, charge_point_id: str, connector_id: int, status: str) -> None: ...

    def charger_offline(self, charge_point_id: str) -> None: ...


class RoamingSessions(Protocol):
    """Who tells eMSPs of their drivers' charges (csms/ocpi/sessions.py); every hook returns at once."""

    def started(self, transaction_id: int) -> None: ...

    def metered(self, transaction_id: int) -> None: ...

    def finished(self, transaction_id: int) -> None: ...


class SessionWatch:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        live: LiveCosts,
        dispatcher: WebhookDispatcher,
        publish: Publish,
        background: BackgroundTasks,
        clock: Callable[[], datetime],
        bus: Bus,
        site_load: SiteLoadManager,
        cache_max_age: float = 30.0,
    ) -> None:
        self._session_factory = session_factory
        self.live = live
        self.site_load = site_load
        self.dispatcher = dispatcher
        self._publish = publish
        self._background = background
        self._clock = clock
        self._silent: set[str] = set()
        # Set once OCPI is wired (app.py): EVSE statuses pushed to eMSPs.
        self.roaming: RoamingFeed | None = None
        # Set once OCPI is wired (app.py): roaming charges' Sessions and CDRs to their eMSPs.
        self.roaming_sessions: RoamingSessions | None = None
        self.webhook_list: SharedTable[list[Webhook]] = SharedTable(
            WEBHOOKS, bus, self._read_webhooks, max_age=cache_max_age
        )

    async def _read_webhooks(self) -> list[Webhook]:
        async with self._session_factory() as session:
            return await webhooks.active_webhooks(session)

    async def start(self) -> None:
        await self.webhook_list.start()
        await self.live.tariff_book.start()
        await self.site_load.start()

    async def close(self) -> None:
        await self.site_load.close()
        await self.webhook_list.close()
        await self.live.tariff_book.close()

    # -- hooks of the OCPP handlers ---------------------------------------------------------

    def charger_booted(self, charge_point_id: str) -> None:
        """A charger's boot was accepted: it can take calls (its site's default limit) now."""
        self.site_load.charger_connected(charge_point_id)

    def transaction_started(self, ref: TransactionRef, *, id_tag: str, started_at: datetime) -> None:
        self.live.started(ref, id_tag=id_tag, started_at=started_at)
        self.site_load.transaction_started(ref)
        if self.roaming_sessions is not None:
            self.roaming_sessions.started(ref.id)
        self._notify("charging_started", **_about(ref))

    def transaction_seen(self, ref: TransactionRef) -> None:
        """A transaction that started before (a repeated StartTransaction): followed, not announced again."""
        self.live.track(ref)

    async def meter_values(self, ref: TransactionRef, samples: Sequence[MeterSample]) -> str | None:
        """The cost so far as a decimal string (None when unknown), for the meter_values event."""
        self.site_load.meter_values(ref, samples)
        if self.roaming_sessions is not None:
            self.roaming_sessions.metered(ref.id)
        cost = await self.live.meter_values(ref, samples)
        return str(cost) if cost is not None else None

    def status_changed(self, charge_point_id: str, report: StatusReport) -> None:
        self.live.status(charge_point_id, report.connector_id, report.status, at=report.timestamp)
        if self.roaming is not None and report.connector_id > 0:
            self.roaming.evse_status(charge_point_id, report.connector_id, report.status)
        if report.status == "Faulted" or report.error_code != "NoError":
            self._notify("charger_fault", **_status_fields(charge_point_id, report))
        if report.status in ("SuspendedEV", "Faulted") and report.connector_id > 0:
            self._background.spawn(self._tell_driver(charge_point_id, report), name="notify-driver")

    def transaction_stopped(self, transaction: ClosedTransaction) -> None:
        """Priced and announced, unless its start was refused: that was never a charging session."""
        self.live.stopped(transaction.id)
        self.site_load.transaction_stopped(transaction)
        if transaction.is_accepted:
            self._background.spawn(self._finished(transaction), name=f"finished-{transaction.id}")

    async def price_stopped(self, transaction: ClosedTransaction) -> Decimal | None:
        """`transaction_stopped`, with the cost priced before this returns (a 2.0.1 station's answer to the
        Ended event carries it): None without a tariff, or when the database cannot price it now (it is
        priced in the background then, as for 1.6)."""
        self.live.stopped(transaction.id)
        self.site_load.transaction_stopped(transaction)
        if not transaction.is_accepted:
            return None
        try:
            priced = await self._freeze_cost(transaction)
        except DATABASE_ERRORS:
            logger.warning("transaction %s: cost not priced at its end", transaction.id, exc_info=True)
            self._background.spawn(self._finished(transaction), name=f"finished-{transaction.id}")
            return None
        self._background.spawn(self._announce_finished(transaction, priced), name=f"finished-{transaction.id}")
        return priced.total if priced is not None else None

    def station_event(self, charge_point_id: str, event: StationEventFields) -> None:
        """An event a 2.x station reported (NotifyEvent): live, and to webhooks of `station_event`."""
        self._notify("station_event", charge_point_id=charge_point_id, **event)

    async def tariff_for(self, charge_point_id: str, *, id_tag: str, group: str | None) -> Tariff | None:
        """The tariff in force now for this driver at this charger (not a connector's own: the driver has
        not chosen one yet), from the tariff book in memory; None without one."""
        book = await self.live.tariff_book.get()
        if not book.assignments:
            return None
        place = tariffs.Place(charge_point_id=charge_point_id, connector_id=0, id_tag=id_tag, group=group)
        assignment = tariffs.assignment_in_force(book.assignments, place, self._clock())
        return book.by_id.get(assignment.tariff_id) if assignment is not None else None

    def charger_disconnected(self, charge_point_id: str) -> None:
        self.site_load.charger_disconnected(charge_point_id)
        if self.roaming is not None:
            self.roaming.charger_offline(charge_point_id)
        self._notify("charger_offline", charge_point_id=charge_point_id, reason="disconnected")

    # -- periodic ---------------------------------------------------------------------------

    async def watch_heartbeats(
        self,
        *,
        check_interval: float,
        heartbeat_interval: float,
        connected: Callable[[], Iterable[tuple[str, float]]],
    ) -> None:
        """Report connected chargers silent for MISSED_HEARTBEATS heartbeat intervals, once per silence.

        `connected` gives each charger connected to this node with the seconds since it was last heard:
        the node that holds a socket sees every frame on it, so no database read is needed (reading every
        charger's row would stall the loop of a node with many sockets, and leave garbage to collect).
        """
        while True:
            await asyncio.sleep(check_interval)
            self.report_silent_chargers(connected(), heartbeat_interval=heartbeat_interval)

    def report_silent_chargers(self, silences: Iterable[tuple[str, float]], *, heartbeat_interval: float) -> None:
        allowed = heartbeat_interval * MISSED_HEARTBEATS
        silent = {charge_point_id for charge_point_id, seconds in silences if seconds > allowed}
        for charge_point_id in silent - self._silent:
            self._notify("charger_offline", charge_point_id=charge_point_id, reason="no heartbeat")
        self._silent = silent

    # -- work in the background -------------------------------------------------------------

    def _notify(self, kind: str, **fields: Any) -> None:
        self._background.spawn(self.notify(kind, **fields), name=f"notify-{kind}")

    async def notify(self, kind: str, **fields: Any) -> None:
        """Publish a live event and queue it for the webhooks subscribed to its kind."""
        await self._publish(kind, **fields)
        wanted = webhooks.subscribers(await self.webhook_list.get(), kind)
        if not wanted:
            return
        message = {"kind": kind, "at": self._clock().isoformat(), **fields}
        async with self._session_factory() as session:
            await webhooks.enqueue(session, wanted, kind, message)
        self.dispatcher.wake()

    async def _tell_driver(self, charge_point_id: str, report: StatusReport) -> None:
        async with self._session_factory() as session:
            transaction = await _transaction_at(session, charge_point_id, report.connector_id, report.timestamp)
        if transaction is None:
            return
        kind = "charging_suspended" if report.status == "SuspendedEV" else "charging_failed"
        await self.notify(kind, **_about(transaction), status=report.status, error_code=report.error_code)

    async def _finished(self, transaction: ClosedTransaction) -> None:
        await self._announce_finished(transaction, await self._freeze_cost(transaction))

    async def _freeze_cost(self, transaction: ClosedTransaction) -> session_costs.PricedSession | None:
        book = await self.live.tariff_book.get()  # before taking a connection: its own read needs one too
        async with self._session_factory() as session:
            return await session_costs.freeze_cost(session, transaction.id, now=self._clock(), book=book)

    async def _announce_finished(
        self, transaction: ClosedTransaction, priced: session_costs.PricedSession | None
    ) -> None:
        if self.roaming_sessions is not None:
            self.roaming_sessions.finished(transaction.id)
        failed = transaction.stop_reason in FAILURE_STOP_REASONS
        await self.notify(
            "charging_failed" if failed else "charging_finished",
            **_about(transaction),
            reason=transaction.stop_reason,
            closed_by=transaction.closed_by,
            energy_wh=transaction.energy_wh,
            cost=str(priced.total) if priced else None,
            currency=priced.currency if priced else None,
        )


def _about(transaction: TransactionRef | ClosedTransaction | Transaction) -> dict[str, Any]:
    return {
        "charge_point_id": transaction.charge_point_id,
        "connector_id": transaction.connector_id,
        "transaction_id": transaction.id,
        "user_id": transaction.user_id,
    }


def _status_fields(charge_point_id: str, report: StatusReport) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "connector_id": report.connector_id,
        "status": report.status,
        "error_code": report.error_code,
        "info": report.info,
        "vendor_error_code": report.vendor_error_code,
    }


async def _transaction_at(
    session: AsyncSession, charge_point_id: str, connector_id: int, at: datetime
) -> Transaction | None:
    """The newest charging session on the connector that had not stopped at `at`: a status report is read
    in the background, and a StopTransaction right behind it may already have closed its session."""
    query = (
        select(Transaction)
        .where(
            Transaction.charge_point_id == charge_point_id,
            Transaction.connector_id == connector_id,
            Transaction.id_tag_status == ACCEPTED,
            or_(Transaction.stop_timestamp.is_(None), Transaction.stop_timestamp >= at),
        )
        .order_by(Transaction.start_timestamp.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()
