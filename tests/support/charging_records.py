"""Helpers for the tests of charging records: idTags, OCPP timestamps, records read back through the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from csms.services import id_tags
from csms.services.clock import utc_now
from tests.conftest import RunningServer
from tests.support.waiting import poll


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def new_tag(server: RunningServer) -> str:
    """A fresh Accepted idTag without an owner (an RFID card)."""
    tag = f"TX{secrets.token_hex(6).upper()}"
    async with server.session() as session:
        await id_tags.create_id_tag(session, id_tag=tag, now=utc_now())
        await session.commit()
    return tag


async def record(http: httpx.AsyncClient, headers: dict[str, str], transaction_id: int) -> dict[str, Any]:
    response = await http.get(f"/api/transactions/{transaction_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_record(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    transaction_id: int,
    condition: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """The record once `condition` holds for it (fails with the last record seen after a generous deadline)."""
    return await poll(lambda: record(http, headers, transaction_id), until=condition)
