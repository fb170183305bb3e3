"""Idempotency keys: a retried request gets the first answer instead of acting twice."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import IdempotentRequest
from csms.services.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def fingerprint(request_body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request_body, sort_keys=True).encode()).hexdigest()


async def claim(
    session: AsyncSession, *, user_id: int, key: str, request_fingerprint: str, now: datetime
) -> StoredAnswer | None:
    """Reserve `key` for this request, or return the answer stored for it.

    Raises Conflict while the first request with the key is still running.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    session.add(IdempotentRequest(user_id=user_id, key=key, request_fingerprint=request_fingerprint, created_at=now))
    try:
        await session.commit()
        return None
    except IntegrityError:
        await session.rollback()
    existing = await session.get(IdempotentRequest, (user_id, key))
    if existing is None:  # released between our insert and our read
        raise Conflict("a request with this Idempotency-Key is in progress; retry shortly")
    if existing.request_fingerprint != request_fingerprint:
        raise InvalidInput("this Idempotency-Key was used with a different request body")
    if existing.status_code is None or existing.response_body is None:
        raise Conflict("a request with this Idempotency-Key is in progress; retry shortly")
    return StoredAnswer(existing.status_code, json.loads(existing.response_body))


async def store_answer(
    session: AsyncSession, *, user_id: int, key: str, status_code: int, body: dict[str, Any]
) -> None:
    existing = await session.get(IdempotentRequest, (user_id, key))
    if existing is not None:
        existing.status_code = status_code
        existing.response_body = json.dumps(body)
        await session.commit()


async def release(session: AsyncSession, *, user_id: int, key: str) -> None:
    """Forget a key whose request failed before reaching the charger, so a retry can try again."""
    await session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
    )
    await session.commit()
