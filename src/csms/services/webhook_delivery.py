"""Posting the delivery log: one worker per webhook with due deliveries, each in order, each with its retries.

A worker posts its webhook's due deliveries one at a time, oldest first, and ends when none is due;
the dispatcher starts workers when events are queued and every poll interval (for retries). With
several nodes, a worker first takes the webhook's lease in the database (renewed before every
delivery, given back when it ends): only one node at a time posts to a webhook, which keeps its
order. Each delivery is also claimed before it is posted, so it is never posted twice even when a
lease runs out during a hanging request.

Leases, claims and due times are read and written on the database's clock, in the statements
themselves (db/database_time.py): nodes whose own clocks disagree by minutes still agree on when a
lease or claim runs out and when a retry is due. The claim counts the attempt in the same statement,
so every request posted is one attempt in the delivery log, whichever node posted it and even if it
never recorded the answer (a node that died mid-request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Update, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.batch_writer import DATABASE_ERRORS
from csms.db.database_time import database_now, database_now_plus
from csms.db.models import Webhook, WebhookDelivery
from csms.services.webhook_targets import TargetRefused, check_target
from csms.services.webhooks import (
    DELIVERED,
    DELIVERY_HEADER,
    EVENT_HEADER,
    FAILED,
    PENDING,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

logger = logging.getLogger(__name__)

# How long a webhook's lease, and a node's claim of a delivery it is posting, outlast one request's
# timeout (database round trips, a busy node) before another node may take them.
_LEASE_MARGIN = 30.0
_BATCH = 100


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are retried and where they may go (read at each attempt, so settings apply live)."""

    retry_base: float
    max_attempts: int
    request_timeout: float
    allow_private: Callable[[], bool]
    own_hosts: Callable[[], frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What one attempt needs, copied out of the database so no connection is held while posting."""

    delivery_id: int
    number: int  # this attempt's number, counted when it was claimed
    url: str
    secret: str
    event_kind: str
    payload: str


class _Worker:
    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        # Set when the dispatcher saw due deliveries while this worker ran: look once more before ending.
        self.nudged = False


class WebhookDispatcher:
    """Starts a worker for every webhook with due deliveries: when woken, and every `poll_interval`."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        signing_clock: Callable[[], float],
        policy: DeliveryPolicy,
        node_id: str,
    ) -> None:
        self._session_factory = session_factory
        # Seconds since the epoch for X-CSMS-Timestamp only: nothing the nodes share is decided by it.
        self._signing_clock = signing_clock
        self._policy = policy
        self._node_id = node_id
        self._wake = asyncio.Event()
        self._workers: dict[int, _Worker] = {}
        # Built once: loading the trust store takes tens of milliseconds, and each worker has a client.
        self._tls = httpx.create_ssl_context()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    await self.start_due_workers()
                except DATABASE_ERRORS:
                    logger.exception("could not look for due webhook deliveries")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_interval)
        finally:
            await self._stop_workers()

    async def start_due_workers(self) -> None:
        for webhook_id in await self._webhooks_with_due_deliveries():
            worker = self._workers.get(webhook_id)
            if worker is not None:
                worker.nudged = True
                continue
            worker = self._workers[webhook_id] = _Worker()
            worker.task = asyncio.create_task(self._work(webhook_id, worker), name=f"webhook-{webhook_id}")

    async def _stop_workers(self) -> None:
        tasks = [worker.task for worker in self._workers.values() if worker.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _webhooks_with_due_deliveries(self) -> list[int]:
        async with self._session_factory() as session:
            due = await session.scalars(
                select(WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= database_now())
                .distinct()
            )
            return list(due)

    async def _work(self, webhook_id: int, worker: _Worker) -> None:
        try:
            # A client of its own: pooled connections are never shared by webhooks (TLS names differ).
            client = httpx.AsyncClient(timeout=self._policy.request_timeout, follow_redirects=False, verify=self._tls)
            async with client:
                while True:
                    worker.nudged = False
                    if await self._deliver_due(client, webhook_id) == 0 and not worker.nudged:
                        # Leave before any further await, so a nudge from now on starts a new worker.
                        del self._workers[webhook_id]
                        return
        except DATABASE_ERRORS:
            logger.exception("webhook %s deliveries failed", webhook_id)
        finally:
            if self._workers.get(webhook_id) is worker:
                del self._workers[webhook_id]
            with contextlib.suppress(*DATABASE_ERRORS):
                await self._release(webhook_id)

    def _hold_for(self) -> float:
        """Seconds a lease or claim lasts: one request's timeout and a margin."""
        return self._policy.request_timeout + _LEASE_MARGIN

    async def _lease(self, webhook_id: int) -> bool:
        """Take or renew the webhook's lease for this node; False while another node holds it."""
        async with self._session_factory() as session:
            result = await session.execute(
                update(Webhook)
                .where(
                    Webhook.id == webhook_id,
                    or_(
                        Webhook.delivering_until.is_(None),
                        Webhook.delivering_until < database_now(),
                        Webhook.delivering_node == self._node_id,
                    ),
                )
                .values(delivering_node=self._node_id, delivering_until=database_now_plus(self._hold_for()))
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _release(self, webhook_id: int) -> None:
        async with self._session_factory() as session:
            await session.execute(
                update(Webhook)
                .where(Webhook.id == webhook_id, Webhook.delivering_node == self._node_id)
                .values(delivering_node=None, delivering_until=None)
            )
            await session.commit()

    async def _deliver_due(self, client: httpx.AsyncClient, webhook_id: int) -> int:
        """Post the webhook's due deliveries, oldest first; how many this node claimed and tried."""
        async with self._session_factory() as session:
            due = await session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= database_now(),
                )
                .order_by(WebhookDelivery.id)
                .limit(_BATCH)
            )
            delivery_ids = list(due)
        tried = 0
        for delivery_id in delivery_ids:
            if not await self._lease(webhook_id):
                break  # another node posts to this webhook now; it will find these too
            attempt = await self._claim(delivery_id)
            if attempt is not None:
                try:
                    status_code, error = await self._post(client, attempt)
                    await self._record(attempt, status_code, error)
                except asyncio.CancelledError:
                    await self._give_back(attempt)  # csms is stopping: the next start posts it at once
                    raise
                tried += 1
        return tried

    async def _claim(self, delivery_id: int) -> _Attempt | None:
        """Count an attempt and move the delivery's next one past the claim, so no other node posts it meanwhile.

        A delivery whose attempts are used up (its last claimant died before recording an answer) is
        failed instead.
        """
        due = (
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= database_now(),
        )
        max_attempts = self._policy.max_attempts
        async with self._session_factory() as session:
            number = await session.scalar(
                _update_deliveries()
                .where(*due, WebhookDelivery.attempts < max_attempts)
                .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=database_now_plus(self._hold_for()))
                .returning(WebhookDelivery.attempts)
            )
            if number is None:
                await session.execute(
                    _update_deliveries()
                    .where(*due, WebhookDelivery.attempts >= max_attempts)
                    .values(status=FAILED, next_attempt_at=None)
                )
            await session.commit()
            return None if number is None else await _attempt(session, delivery_id, number)

    async def _give_back(self, attempt: _Attempt) -> None:
        """Due again at once instead of when the claim runs out; the attempt stays counted (it may have arrived)."""
        statement = (
            _update_deliveries()
            .where(
                WebhookDelivery.id == attempt.delivery_id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.attempts == attempt.number,
            )
            .values(next_attempt_at=database_now())
        )
        with contextlib.suppress(*DATABASE_ERRORS):
            async with self._session_factory() as session:
                await session.execute(statement)
                await session.commit()

    async def _post(self, client: httpx.AsyncClient, attempt: _Attempt) -> tuple[int | None, str | None]:
        try:
            target = await check_target(
                attempt.url, allow_private=self._policy.allow_private(), own_hosts=self._policy.own_hosts()
            )
        except TargetRefused as refusal:
            return None, f"refused: {refusal}"[:255]
        body = attempt.payload.encode()
        timestamp = str(int(self._signing_clock()))
        headers = {
            "Host": target.host_header(),
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(attempt.secret, timestamp, body),
            EVENT_HEADER: attempt.event_kind,
            DELIVERY_HEADER: str(attempt.delivery_id),
        }
        server_name = target.tls_server_name()
        extensions = {"sni_hostname": server_name} if server_name else {}
        try:
            response = await client.post(target.pinned_url(), content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as error:
            return None, _failure(error)
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"

    async def _record(self, attempt: _Attempt, status_code: int | None, error: str | None) -> None:
        """Keep the attempt's answer: delivered, failed for good, or due again after its backoff.

        A failure is kept only while no later attempt was claimed (this one outlasted its claim), so
        a late answer never reschedules a newer attempt; a success ends the delivery whenever it comes.
        """
        pending = _update_deliveries().where(
            WebhookDelivery.id == attempt.delivery_id, WebhookDelivery.status == PENDING
        )
        answer = {"last_status_code": status_code, "last_error": error}
        if status_code is not None and 200 <= status_code < 300:
            statement = pending.values(**answer, status=DELIVERED, delivered_at=database_now(), next_attempt_at=None)
        else:
            if attempt.number >= self._policy.max_attempts:
                outcome: dict[str, object] = {"status": FAILED, "next_attempt_at": None}
            else:
                backoff = self._policy.retry_base * 2 ** (attempt.number - 1)
                outcome = {"next_attempt_at": database_now_plus(backoff)}
            statement = pending.where(WebhookDelivery.attempts == attempt.number).values(**answer, **outcome)
        async with self._session_factory() as session:
            await session.execute(statement)
            await session.commit()


def _update_deliveries() -> Update:
    # The statements compare with the database's clock, which the session cannot evaluate in Python.
    return update(WebhookDelivery).execution_options(synchronize_session=False)


async def _attempt(session: AsyncSession, delivery_id: int, number: int) -> _Attempt | None:
    """What posting the claimed delivery needs; None when its webhook was deleted meanwhile."""
    row = (
        await session.execute(
            select(Webhook.url, Webhook.secret, WebhookDelivery.event_kind, WebhookDelivery.payload)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return None if row is None else _Attempt(delivery_id, number, row.url, row.secret, row.event_kind, row.payload)


def _failure(error: httpx.HTTPError) -> str:
    """What the delivery log says of a request without an answer: the kind of failure, never the
    operating system's words, which tell one closed port from another."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.ConnectError):
        return "could not connect"
    return f"the request failed ({type(error).__name__})"
