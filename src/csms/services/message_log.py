"""The OCPP message log: every frame in and out, per charger, written in batches, kept within bounds.

A charger decides what it sends: the log keeps at most the first `max_frame_bytes` of a frame (with
the whole frame's size), and `MessageLogRetention` deletes frames past an age and beyond a number of
rows per charger, so that no charger can fill the disk through the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import DATABASE_UNREACHABLE, BatchWriter
from csms.db.models import Base, OcppMessage
from csms.db.retention import delete_in_batches
from csms.db.storable_text import escape_unstorable
from csms.db.write_journal import journaled

logger = logging.getLogger(__name__)

_TABLE = Base.metadata.tables[OcppMessage.__tablename__]
# The table, not the mapped class: a plain executemany instead of the ORM's bulk insert.
# A journal of held writes from before 0021 has rows without ocpp_version: they get NULL.
_INSERT_FRAME = journaled(
    "ocpp_message.insert", insert(_TABLE).values(ocpp_version=bindparam("ocpp_version", value=None))
)
DEFAULT_MAX_FRAME_BYTES = 4096

INCOMING = "in"
OUTGOING = "out"


class MessageLog:
    """Hands every frame to the BatchWriter, which commits it with the next batch of charger data.

    The rows ride the writer's transactions rather than a connection of their own: on SQLite a second
    writer waits for the lock in the database's busy handler, which sleeps in steps of up to 100 ms.
    And they go over one by one rather than as a periodic flush: a flush puts many frames' rows into one
    batch under load, and every charger's answer in that batch waits for all of them.
    """

    def __init__(
        self, writer: BatchWriter, *, clock: Callable[[], datetime], max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._max_frame_bytes = max_frame_bytes
        # Rows recorded per charger since retention last trimmed it: it trims only chargers that wrote.
        self.rows_since_trim: Counter[str] = Counter()

    def record(
        self,
        charge_point_id: str,
        direction: str,
        frame: str,
        *,
        ocpp_version: str | None = None,
        message_type: int | None = None,
        unique_id: str | None = None,
        action: str | None = None,
    ) -> None:
        # A record of what arrived, refused frames included: its first bytes, with text the database cannot
        # store escaped, and its whole size.
        kept, size = _truncated(frame, self._max_frame_bytes)
        row = {
            "charge_point_id": charge_point_id,
            "direction": direction,
            "frame": escape_unstorable(kept),
            "frame_bytes": size,
            "message_type": message_type,
            "unique_id": escape_unstorable(unique_id)[:64] if unique_id else unique_id,
            "action": escape_unstorable(action)[:64] if action else action,
            "ocpp_version": ocpp_version,
            "created_at": self._clock(),
        }
        self._writer.write_soon((_INSERT_FRAME, [row]))
        self.rows_since_trim[charge_point_id] += 1

    async def flush(self) -> None:
        """Wait until every frame recorded so far is committed."""
        await self._writer.flush()


async def list_messages(
    session: AsyncSession,
    charge_point_id: str,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    direction: str | None = None,
) -> list[OcppMessage]:
    """The newest frames of a charger first, of one action or direction if asked; page backwards with `before_id`."""
    query = select(OcppMessage).where(OcppMessage.charge_point_id == charge_point_id)
    if before_id is not None:
        query = query.where(OcppMessage.id < before_id)
    if action is not None:
        query = query.where(OcppMessage.action == action)
    if direction is not None:
        query = query.where(OcppMessage.direction == direction)
    query = query.order_by(OcppMessage.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


def _truncated(frame: str, max_bytes: int) -> tuple[str, int]:
    """The frame's first `max_bytes` bytes (whole characters only) and the whole frame's size in bytes."""
    if frame.isascii():  # a flag of the string: no encoding for the usual frame
        return (frame if len(frame) <= max_bytes else frame[:max_bytes]), len(frame)
    encoded = frame.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return frame, len(encoded)
    return encoded[:max_bytes].decode("utf-8", "ignore"), len(encoded)


class MessageLogRetention:
    """Deletes frames older than `max_age` and beyond `rows_per_charger` per charger, in small batches.

    Each batch is one short transaction of the BatchWriter, so chargers' writes take turns with it
    instead of waiting behind one long delete. A charger is trimmed when it has written a tenth of its
    allowance since its last trim on this node (its first trim when it first writes), so a pass costs
    nothing for chargers that stay quiet.
    """

    def __init__(
        self,
        writer: BatchWriter,
        message_log: MessageLog,
        *,
        clock: Callable[[], datetime],
        max_age: timedelta | None,
        rows_per_charger: int | None,
        batch_size: int = 500,
    ) -> None:
        self._writer = writer
        self._message_log = message_log
        self._clock = clock
        self._max_age = max_age
        self._rows_per_charger = rows_per_charger
        self._batch_size = batch_size
        self._trimmed_once: set[str] = set()

    async def run_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.apply()
            except DATABASE_UNREACHABLE as error:
                logger.warning("message log retention skipped: the database is unreachable (%s)", type(error).__name__)

    async def apply(self) -> int:
        """One pass: the frames deleted."""
        deleted = await self._delete_older_than(self._clock() - self._max_age) if self._max_age else 0
        if self._rows_per_charger:
            due = self._due_for_trim(self._rows_per_charger)
            if due:
                # The rows counted are queued, not always committed: trimmed before they are, a charger that
                # then falls quiet would keep more than its allowance until it writes again.
                await self._message_log.flush()
            for charge_point_id in due:
                deleted += await self._trim_charger(charge_point_id, self._rows_per_charger)
        if deleted:
            logger.info("message log retention deleted %d frames", deleted)
        return deleted

    def _due_for_trim(self, rows_per_charger: int) -> list[str]:
        threshold = max(1, rows_per_charger // 10)
        written = self._message_log.rows_since_trim
        due = [
            charge_point_id
            for charge_point_id, rows in written.items()
            if rows >= threshold or charge_point_id not in self._trimmed_once
        ]
        for charge_point_id in due:
            del written[charge_point_id]
            self._trimmed_once.add(charge_point_id)
        return due

    async def _delete_older_than(self, cutoff: datetime) -> int:
        """Walks the table from its oldest id: ids grow with time, so no index on created_at is needed."""
        oldest = select(_TABLE.c.id, _TABLE.c.created_at).order_by(_TABLE.c.id).limit(self._batch_size)
        deleted = 0
        while True:
            async with self._writer.transaction() as connection:
                expired = [row.id for row in (await connection.execute(oldest)).all() if row.created_at < cutoff]
                if expired:
                    await connection.execute(delete(_TABLE).where(_TABLE.c.id.in_(expired)))
            if not expired:
                return deleted
            deleted += len(expired)
            await asyncio.sleep(0)  # chargers' writes go between two batches

    async def _trim_charger(self, charge_point_id: str, keep: int) -> int:
        """Deletes the charger's frames older than its `keep` newest."""
        of_charger = _TABLE.c.charge_point_id == charge_point_id
        newest_dropped = select(_TABLE.c.id).where(of_charger).order_by(_TABLE.c.id.desc()).offset(keep).limit(1)
        async with self._writer.transaction() as connection:
            last_id = await connection.scalar(newest_dropped)
        if last_id is None:
            return 0
        batch = select(_TABLE.c.id).where(of_charger, _TABLE.c.id <= last_id).order_by(_TABLE.c.id)
        return await delete_in_batches(self._writer, _TABLE, batch.limit(self._batch_size))
