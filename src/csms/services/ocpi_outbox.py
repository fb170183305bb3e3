"""The outbox of requests csms owes OCPI parties (Location PUTs, EVSE status PATCHes, Tariff PUTs).

A push is queued in the same database as what it tells, so none is lost when a node stops; csms/ocpi/push.py
delivers them. It follows the webhook delivery log's rules (services/webhook_delivery.py): due times, claims and
backoff are the database's clock, in the statements themselves, so nodes whose clocks disagree agree on them; a
claim counts the attempt and moves the next one past the request's timeout, so no two nodes send one push at once.
A push to the same URL with the same method supersedes a pending older one: the party needs only the latest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Update, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from csms.db.database_time import database_now, database_now_plus
from csms.db.models import OcpiPush

PENDING, DELIVERED, FAILED, SUPERSEDED = "PENDING", "DELIVERED", "FAILED", "SUPERSEDED"


@dataclass(frozen=True, slots=True)
class Push:
    """One request to send: to which party, how, and this attempt's number."""

    push_id: int
    party_key: int
    number: int
    method: str
    url: str
    body: Any


async def enqueue(
    session: AsyncSession, party_key: int, method: str, url: str, body: Any, *, supersede: bool = True
) -> None:
    """Queue a request to the party, due at once (committed by the caller); `supersede=False` for requests that
    share a URL but not an object (each CDR is POSTed to the one cdrs endpoint)."""
    if supersede:
        await session.execute(
            _update()
            .where(
                OcpiPush.party_id == party_key,
                OcpiPush.method == method,
                OcpiPush.url == url,
                OcpiPush.status == PENDING,
            )
            .values(status=SUPERSEDED, next_attempt_at=None)
        )
    await session.execute(
        insert(OcpiPush).values(
            party_id=party_key,
            method=method,
            url=url,
            body=json.dumps(body),
            status=PENDING,
            attempts=0,
            created_at=database_now(),
            next_attempt_at=database_now(),
        )
    )


async def due(session: AsyncSession, *, limit: int) -> list[tuple[int, int]]:
    """(push id, party id) of the pushes due now, oldest first. A push waits while an older one to its party is
    pending and not due (backing off, or being sent): a party gets its pushes in the order they were queued (a
    Session's PATCH never before its PUT, nor a CDR before the Session's end)."""
    older = aliased(OcpiPush)
    waiting = (
        select(older.id)
        .where(
            older.party_id == OcpiPush.party_id,
            older.id < OcpiPush.id,
            older.status == PENDING,
            older.next_attempt_at > database_now(),
        )
        .exists()
    )
    query = (
        select(OcpiPush.id, OcpiPush.party_id)
        .where(OcpiPush.status == PENDING, OcpiPush.next_attempt_at <= database_now(), ~waiting)
        .order_by(OcpiPush.id)
        .limit(limit)
    )
    return [(push_id, party_key) for push_id, party_key in await session.execute(query)]


async def claim(session: AsyncSession, push_id: int, *, max_attempts: int, hold_for: float) -> Push | None:
    """Count an attempt and hold the push for `hold_for` seconds; None when it is not due (or another node took
    it). A push whose attempts are used up (its last claimant died before it recorded an answer) fails instead."""
    is_due = (OcpiPush.id == push_id, OcpiPush.status == PENDING, OcpiPush.next_attempt_at <= database_now())
    # What the push needs comes back with the claim: nothing else is awaited between claiming and sending, so a
    # node stopping in between gives the push back (push.py) instead of holding it until the claim runs out.
    claimed = await session.execute(
        _update()
        .where(*is_due, OcpiPush.attempts < max_attempts)
        .values(attempts=OcpiPush.attempts + 1, next_attempt_at=database_now_plus(hold_for))
        .returning(OcpiPush.attempts, OcpiPush.party_id, OcpiPush.method, OcpiPush.url, OcpiPush.body)
    )
    row = claimed.one_or_none()
    if row is None:
        await session.execute(
            _update().where(*is_due, OcpiPush.attempts >= max_attempts).values(status=FAILED, next_attempt_at=None)
        )
    await session.commit()
    if row is None:
        return None
    number, party_key, method, url, body = row
    return Push(push_id, party_key, number, method, url, json.loads(body))


async def delivered(session: AsyncSession, push: Push) -> None:
    await session.execute(
        _update()
        .where(OcpiPush.id == push.push_id, OcpiPush.status == PENDING)
        .values(status=DELIVERED, delivered_at=database_now(), next_attempt_at=None, last_error=None)
    )
    await session.commit()


async def failed(session: AsyncSession, push: Push, error: str, *, retry_in: float | None) -> None:
    """The attempt failed: due again in `retry_in` seconds, or (None) given up. Kept only while no later attempt
    was claimed, so a late answer never reschedules a newer attempt."""
    outcome: dict[str, Any] = (
        {"status": FAILED, "next_attempt_at": None}
        if retry_in is None
        else {"next_attempt_at": database_now_plus(retry_in)}
    )
    await session.execute(
        _update()
        .where(OcpiPush.id == push.push_id, OcpiPush.status == PENDING, OcpiPush.attempts == push.number)
        .values(last_error=error[:255], **outcome)
    )
    await session.commit()


async def given_back(session: AsyncSession, push: Push) -> None:
    """The node stopped while sending the attempt: the push is due again at once (for the next node to run)
    instead of when the claim runs out. The attempt stays counted: the party may have had it."""
    await session.execute(
        _update()
        .where(OcpiPush.id == push.push_id, OcpiPush.status == PENDING, OcpiPush.attempts == push.number)
        .values(next_attempt_at=database_now())
    )
    await session.commit()


async def pushes_of(session: AsyncSession, party_key: int) -> list[OcpiPush]:
    query = select(OcpiPush).where(OcpiPush.party_id == party_key).order_by(OcpiPush.id)
    return list(await session.scalars(query))


def _update() -> Update:
    # The statements compare with the database's clock, which the session cannot evaluate in Python.
    return update(OcpiPush).execution_options(synchronize_session=False)
