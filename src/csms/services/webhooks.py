"""Outgoing webhooks: operators' endpoints that csms posts events to, signed, retried, logged.

Each request carries `X-CSMS-Timestamp` (Unix seconds) and `X-CSMS-Signature: sha256=<hex>`, the
HMAC-SHA256 with the webhook's secret of `<timestamp>.<raw body>`. The timestamp is inside the MAC so
a captured request cannot be replayed later with a fresh timestamp; receivers refuse old ones.

An event becomes one delivery row per subscribed webhook (the delivery log). A background task on
the Runtime posts due deliveries; an answer other than 2xx, or no answer, is retried after
`retry_base * 2**(attempts - 1)` seconds until `max_attempts`, then the delivery is failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import Webhook, WebhookDelivery
from csms.services.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CSMS-Signature"
TIMESTAMP_HEADER = "X-CSMS-Timestamp"
EVENT_HEADER = "X-CSMS-Event"
DELIVERY_HEADER = "X-CSMS-Delivery"
EVENT_KINDS = frozenset(
    {
        "charging_started",
        "charging_suspended",
        "charging_finished",
        "charging_failed",
        "charger_fault",
        "charger_offline",
    }
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# How long a node owns a delivery it is posting before another node may try it.
_CLAIM = timedelta(seconds=60)
_REQUEST_TIMEOUT = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def create_webhook(session: AsyncSession, *, url: str, events: Sequence[str], now: datetime) -> Webhook:
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("a webhook url starts with http:// or https://")
    unknown = set(events) - EVENT_KINDS
    if unknown:
        raise InvalidInput(f"unknown event kinds {sorted(unknown)}; known: {sorted(EVENT_KINDS)}")
    webhook = Webhook(url=url, secret=secrets.token_hex(32), events=",".join(events), is_active=True, created_at=now)
    session.add(webhook)
    await session.commit()
    return webhook


async def list_webhooks(session: AsyncSession) -> list[Webhook]:
    return list((await session.scalars(select(Webhook).order_by(Webhook.id))).all())


async def get_webhook(session: AsyncSession, webhook_id: int) -> Webhook:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return webhook


async def delete_webhook(session: AsyncSession, webhook_id: int) -> None:
    await session.delete(await get_webhook(session, webhook_id))
    await session.commit()


async def list_deliveries(session: AsyncSession, webhook_id: int, *, limit: int = 100) -> list[WebhookDelivery]:
    await get_webhook(session, webhook_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


def subscribed_kinds(webhook: Webhook) -> set[str]:
    return {kind for kind in webhook.events.split(",") if kind}


async def active_webhooks(session: AsyncSession) -> list[Webhook]:
    return list((await session.scalars(select(Webhook).where(Webhook.is_active.is_(True)))).all())


def subscribers(webhooks: list[Webhook], kind: str) -> list[Webhook]:
    return [webhook for webhook in webhooks if not subscribed_kinds(webhook) or kind in subscribed_kinds(webhook)]


async def enqueue(
    session: AsyncSession, wanted: list[Webhook], kind: str, message: dict[str, Any], *, now: datetime
) -> int:
    """One pending delivery of `message` per webhook in `wanted`; how many."""
    body = json.dumps(message, default=str)
    session.add_all(
        WebhookDelivery(
            webhook_id=webhook.id,
            event_kind=kind,
            payload=body,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for webhook in wanted
    )
    await session.commit()
    return len(wanted)


class WebhookDispatcher:
    """Posts due deliveries: woken when events are queued, and every `poll_interval` for retries."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
        retry_base: float,
        max_attempts: int,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._retry_base = retry_base
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float) -> None:
        async with httpx.AsyncClient(timeout=_REQUEST_TIMEOUT) as client:
            while True:
                self._wake.clear()
                try:
                    await self.deliver_due(client)
                except Exception:
                    logger.exception("webhook deliveries failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), poll_interval)
                except TimeoutError:
                    pass

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Post every delivery that is due and that this node could claim; how many were tried."""
        now = self._clock()
        async with self._session_factory() as session:
            due = await session.execute(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(100)
            )
            ids = list(due.scalars())
        tried = 0
        for delivery_id in ids:
            if await self._claim(delivery_id, now):
                await self._attempt(client, delivery_id)
                tried += 1
        return tried

    async def _claim(self, delivery_id: int, now: datetime) -> bool:
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
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _attempt(self, client: httpx.AsyncClient, delivery_id: int) -> None:
        async with self._session_factory() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            webhook = await session.get(Webhook, delivery.webhook_id) if delivery else None
            if delivery is None or webhook is None:
                return
            status_code, error = await _post(client, webhook, delivery, now=self._clock())
            self._record(delivery, status_code, error)
            await session.commit()

    def _record(self, delivery: WebhookDelivery, status_code: int | None, error: str | None) -> None:
        now = self._clock()
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
        elif delivery.attempts >= self._max_attempts:
            delivery.status, delivery.next_attempt_at = FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=self._retry_base * 2 ** (delivery.attempts - 1))


async def _post(
    client: httpx.AsyncClient, webhook: Webhook, delivery: WebhookDelivery, *, now: datetime
) -> tuple[int | None, str | None]:
    body = delivery.payload.encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        EVENT_HEADER: delivery.event_kind,
        DELIVERY_HEADER: str(delivery.id),
    }
    try:
        response = await client.post(webhook.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return None, (str(error) or type(error).__name__)[:255]
    return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
