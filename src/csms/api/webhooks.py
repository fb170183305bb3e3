"""Webhooks for operators: where csms posts events, and the log of every delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import Webhook
from csms.services import webhooks
from csms.services.webhook_targets import own_hosts

router = APIRouter(prefix="/api/admin/webhooks", tags=["webhooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs admin"},
    404: {"model": ErrorBody, "description": "Unknown webhook"},
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "Malformed URL, unknown event kind, or a non-public target"}
}


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2048, examples=["https://ops.example.com/csms-events"])
    events: list[str] = Field(
        default=[], max_length=20, description=f"Event kinds, none for all: {', '.join(sorted(webhooks.EVENT_KINDS))}"
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime


class CreatedWebhook(WebhookOut):
    secret: str = Field(description="Shown once: the HMAC-SHA256 key of X-CSMS-Signature")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_kind: str
    payload: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, responses={**_ERRORS, **_REFUSED})
async def create_webhook(body: WebhookIn, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> CreatedWebhook:
    """Register an endpoint (public addresses only, unless allowed); the answer carries its secret, shown once."""
    webhook = await webhooks.create_webhook(
        session,
        url=body.url,
        events=body.events,
        now=runtime.clock(),
        allow_private=runtime.settings.webhook_allow_private_targets,
        own_hosts=own_hosts(runtime.settings.public_url),
    )
    await runtime.session_watch.webhook_list.changed()
    return CreatedWebhook(**_out(webhook).model_dump(), secret=webhook.secret)


@router.get("/event_kinds", responses=_ERRORS)
async def list_event_kinds(admin: AdminUser) -> list[str]:
    """The event kinds a webhook may subscribe to."""
    return sorted(webhooks.EVENT_KINDS)


@router.get("", responses=_ERRORS)
async def list_webhooks(admin: AdminUser, session: SessionDep) -> list[WebhookOut]:
    """Every webhook (without secrets)."""
    return [_out(webhook) for webhook in await webhooks.list_webhooks(session)]


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_webhook(webhook_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> None:
    """Remove a webhook and its delivery log."""
    await webhooks.delete_webhook(session, webhook_id)
    await runtime.session_watch.webhook_list.changed()


@router.get("/{webhook_id}/deliveries", responses=_ERRORS)
async def list_deliveries(webhook_id: int, admin: AdminUser, session: SessionDep) -> list[DeliveryOut]:
    """The webhook's newest deliveries: status, attempts, the last answer."""
    return [DeliveryOut.model_validate(delivery) for delivery in await webhooks.list_deliveries(session, webhook_id)]


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.id,
        url=webhook.url,
        events=sorted(webhooks.subscribed_kinds(webhook)),
        is_active=webhook.is_active,
        created_at=webhook.created_at,
    )
