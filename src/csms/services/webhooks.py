"""Outgoing webhooks: operators' endpoints that csms posts events to, signed, retried, logged.

Each request carries `X-CSMS-Timestamp` (Unix seconds) and `X-CSMS-Signature: sha256=<hex>`, the
HMAC-SHA256 with the webhook's secret of `<timestamp>.<raw body>`. The timestamp is inside the MAC so
a captured request cannot be replayed later with a fresh timestamp; receivers refuse old ones.

An event becomes one delivery row per subscribed webhook (the delivery log). Each webhook with
due deliveries gets a worker of its own that posts them one at a time, oldest first, so a slow or
dead endpoint delays only its own events. An answer other than 2xx, or no answer, is retried after
`retry_base * 2**(attempts - 1)` seconds until `max_attempts`, then the delivery is failed; a
delivery waiting for its retry does not hold back the webhook's newer events.

Targets are checked before every attempt (services/webhook_targets.py): a URL that now resolves to
a non-public address is not posted to, and the attempt is logged as refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.database_time import database_now
from csms.db.models import Webhook, WebhookDelivery
from csms.services.errors import InvalidInput, NotFound
from csms.services.webhook_targets import check_target

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
        "station_event",
    }
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def create_webhook(
    session: AsyncSession,
    *,
    url: str,
    events: Sequence[str],
    now: datetime,
    allow_private: bool,
    own_hosts: frozenset[str] = frozenset(),
) -> Webhook:
    """Register a webhook; TargetRefused (InvalidInput) for a URL webhooks may not post to."""
    await check_target(url, allow_private=allow_private, own_hosts=own_hosts)
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


async def enqueue(session: AsyncSession, wanted: list[Webhook], kind: str, message: dict[str, Any]) -> int:
    """One pending delivery of `message` per webhook in `wanted`, due at once; how many.

    Its times are the database's, as its claims and retries are (services/webhook_delivery.py): due
    "now" by a node whose clock is ahead would otherwise wait that long on every other node.
    """
    if wanted:
        body = json.dumps(message, default=str)
        await session.execute(
            insert(WebhookDelivery).values(created_at=database_now(), next_attempt_at=database_now()),
            [
                {"webhook_id": webhook.id, "event_kind": kind, "payload": body, "status": PENDING, "attempts": 0}
                for webhook in wanted
            ],
        )
        await session.commit()
    return len(wanted)
