"""What a node keeps ready so StartTransaction needs no database read, even while the database is away.

- Transaction ids taken from the database's own counter ahead of time, a hundred at a time: every
  StartTransaction gets its id without a round trip, also while the database is unreachable, and ids
  stay unique and never reused, since the counter has moved past them (a restart leaves a gap).
- What Authorize and StartTransaction last answered for each idTag on this node (with its owner), so a
  tag seen recently is answered the same way; a tag not seen recently is not guessed at, nor one whose
  change (a block, a deletion) was announced since.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.services.id_tags import IdTagInfo

_POSTGRES_RESERVE = text("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) FROM generate_series(1, :n)")
# SQLite's AUTOINCREMENT counter lives in sqlite_sequence, which SQLite documents as writable.
_SQLITE_COUNTER_ROW = text(
    "INSERT INTO sqlite_sequence (name, seq) "
    "SELECT 'transactions', COALESCE((SELECT MAX(id) FROM transactions), 0) "
    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'transactions')"
)
_SQLITE_RESERVE = text("UPDATE sqlite_sequence SET seq = seq + :n WHERE name = 'transactions' RETURNING seq")


class TransactionIdReserve:
    def __init__(self, *, size: int = 100) -> None:
        self._size = size
        self._ids: deque[int] = deque()
        self._refilling = asyncio.Lock()  # starts that find it empty together share one refill

    def __len__(self) -> int:
        return len(self._ids)

    def take(self) -> int | None:
        return self._ids.popleft() if self._ids else None

    @property
    def needs_refill(self) -> bool:
        return len(self._ids) < self._size // 2

    async def refill(self, transaction: Callable[[], AbstractAsyncContextManager[AsyncConnection]]) -> None:
        """Top up in a transaction of `transaction()`, committed before the ids are handed out."""
        async with self._refilling:
            wanted = self._size - len(self._ids)
            if wanted <= self._size // 2:
                return
            async with transaction() as connection:
                reserved = await _reserve(connection, wanted)
            self._ids.extend(reserved)


async def _reserve(connection: AsyncConnection, wanted: int) -> list[int]:
    if connection.dialect.name == "postgresql":
        return [int(row[0]) for row in await connection.execute(_POSTGRES_RESERVE, {"n": wanted})]
    await connection.execute(_SQLITE_COUNTER_ROW)
    last = int((await connection.execute(_SQLITE_RESERVE, {"n": wanted})).scalar_one())
    return list(range(last - wanted + 1, last + 1))


@dataclass(frozen=True, slots=True)
class RememberedTag:
    info: IdTagInfo
    user_id: int | None
    vehicle_id: int | None
    seen_at: datetime


class RecentTags:
    def __init__(self, *, max_age: timedelta = timedelta(hours=12), max_entries: int = 100_000) -> None:
        self._max_age = max_age
        self._max_entries = max_entries
        self._tags: dict[str, RememberedTag] = {}

    def remember(self, id_tag: str, tag: RememberedTag) -> None:
        if len(self._tags) >= self._max_entries:
            self._tags.clear()
        self._tags[id_tag] = tag

    def forget(self, id_tags: set[str]) -> None:
        """Forget tags that changed (`{"*"}`: every tag): a tag blocked since must not be answered Accepted."""
        if "*" in id_tags:
            self._tags.clear()
        for id_tag in id_tags:
            self._tags.pop(id_tag, None)

    def recall(self, id_tag: str, *, now: datetime) -> RememberedTag | None:
        tag = self._tags.get(id_tag)
        if tag is None or now - tag.seen_at > self._max_age:
            return None
        expiry = tag.info.expiry_date
        if expiry is not None and expiry <= now and tag.info.status == "Accepted":
            return RememberedTag(replace(tag.info, status="Expired"), tag.user_id, tag.vehicle_id, tag.seen_at)
        return tag
