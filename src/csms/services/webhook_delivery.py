"""Posting the delivery log: one worker per webhook with due deliveries, each in order, each with its retries.

A worker posts its webhook's due deliveries one at a time, oldest first, and ends when none is due;
the dispatcher starts workers when events are queued and every poll interval (for retries). With
several nodes, a worker first takes the webhook's lease in the database (renewed before every
delivery, given back when it ends): only one node at a time posts to a webhook, which keeps its
order. Each delivery is also claimed before it is posted, so it is never posted twice even when a
lease runs out during a hanging request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.batch_writer import DATABASE_ERRORS
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

# How long a node owns a delivery it is posting before another node may try it.
_CLAIM = timedelta(seconds=60)
# How long a webhook's lease outlasts one request's timeout (database round trips, a busy node).
_LEASE_MARGIN = timedelta(seconds=30)
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
        clock: Callable[[], datetime],
        policy: DeliveryPolicy,
        node_id: str,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
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
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= self._clock())
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

    async def _lease(self, webhook_id: int, now: datetime) -> bool:
        """Take or renew the webhook's lease for this node; False while another node holds it."""
        lease = timedelta(seconds=self._policy.request_timeout) + _LEASE_MARGIN
        async with self._session_factory() as session:
            result = await session.execute(
                update(Webhook)
                .where(
                    Webhook.id == webhook_id,
                    or_(
                        Webhook.delivering_until.is_(None),
                        Webhook.delivering_until < now,
                        Webhook.delivering_node == self._node_id,
                    ),
                )
                .values(delivering_node=self._node_id, delivering_until=now + lease)
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
        now = self._clock()
        async with self._session_factory() as session:
            due = await session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.id)
                .limit(_BATCH)
            )
            delivery_ids = list(due)
        tried = 0
        for delivery_id in delivery_ids:
            if not await self._lease(webhook_id, self._clock()):
                break  # another node posts to this webhook now; it will find these too
            attempt = await self._claim(delivery_id, now)
            if attempt is not None:
                status_code, error = await self._post(client, attempt)
                await self._record(delivery_id, status_code, error)
                tried += 1
        return tried

    async def _claim(self, delivery_id: int, now: datetime) -> _Attempt | None:
        """Move the delivery's next attempt past the claim window, so no other node posts it meanwhile."""
        async with self._session_factory() as session:
            result = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + _CLAIM)
            )
            await session.commit()
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = (
                await session.execute(
                    select(Webhook.url, Webhook.secret, WebhookDelivery.event_kind, WebhookDelivery.payload)
                    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                    .where(WebhookDelivery.id == delivery_id)
                )
            ).first()
            return None if row is None else _Attempt(delivery_id, row.url, row.secret, row.event_kind, row.payload)

    async def _post(self, client: httpx.AsyncClient, attempt: _Attempt) -> tuple[int | None, str | None]:
        try:
            target = await check_target(
                attempt.url, allow_private=self._policy.allow_private(), own_hosts=self._policy.own_hosts()
            )
        except TargetRefused as refusal:
            return None, f"refused: {refusal}"[:255]
        body = attempt.payload.encode()
        timestamp = str(int(self._clock().timestamp()))
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

    async def _record(self, delivery_id: int, status_code: int | None, error: str | None) -> None:
        now = self._clock()
        async with self._session_factory() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            if delivery is None:  # the webhook was deleted meanwhile
                return
            delivery.attempts += 1
            delivery.last_status_code = status_code
            delivery.last_error = error
            if status_code is not None and 200 <= status_code < 300:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
            elif delivery.attempts >= self._policy.max_attempts:
                delivery.status, delivery.next_attempt_at = FAILED, None
            else:
                backoff = self._policy.retry_base * 2 ** (delivery.attempts - 1)
                delivery.next_attempt_at = now + timedelta(seconds=backoff)
            await session.commit()


def _failure(error: httpx.HTTPError) -> str:
    """What the delivery log says of a request without an answer: the kind of failure, never the
    operating system's words, which tell one closed port from another."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.ConnectError):
        return "could not connect"
    return f"the request failed ({type(error).__name__})"
