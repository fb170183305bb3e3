"""The OCPP message log: every frame in and out, per charger, written in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import BatchWriter
from csms.db.models import Base, OcppMessage

logger = logging.getLogger(__name__)

# The table, not the mapped class: a plain executemany instead of the ORM's bulk insert.
_INSERT_FRAME = insert(Base.metadata.tables[OcppMessage.__tablename__])

INCOMING = "in"
OUTGOING = "out"


class MessageLog:
    """Collects frames in memory and hands them to the BatchWriter every `flush_interval` seconds.

    One write per frame would double the database load of every OCPP message; a short delay in
    the operator's log view is the better trade. The rows ride the writer's transactions rather
    than a connection of their own: on SQLite a second writer waits for the lock in the database's
    busy handler, which sleeps in steps of up to 100 ms, and every charger's answer waited with it.
    `close()` hands over what is still pending.
    """

    def __init__(
        self,
        writer: BatchWriter,
        *,
        clock: Callable[[], datetime],
        flush_interval: float = 0.2,
        max_pending: int = 100_000,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        self._pending: list[dict[str, object]] = []
        self._task: asyncio.Task[None] | None = None

    def record(
        self,
        charge_point_id: str,
        direction: str,
        frame: str,
        *,
        message_type: int | None = None,
        unique_id: str | None = None,
        action: str | None = None,
    ) -> None:
        if len(self._pending) >= self._max_pending:
            logger.warning("message log backlog full, dropping a frame of %s", charge_point_id)
            return
        self._pending.append(
            {
                "charge_point_id": charge_point_id,
                "direction": direction,
                "frame": frame,
                "message_type": message_type,
                "unique_id": unique_id[:64] if unique_id else unique_id,
                "action": action[:64] if action else action,
                "created_at": self._clock(),
            }
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_periodically(), name="message-log-flush")

    async def close(self) -> None:
        """Stop the periodic flush and hand over the rest; the writer, closed after this, writes it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._hand_over()

    async def flush(self) -> None:
        """Write what is pending now and wait until it is committed."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        await self._writer.write((_INSERT_FRAME, batch))

    def _hand_over(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._writer.write_soon((_INSERT_FRAME, batch))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            self._hand_over()


async def list_messages(
    session: AsyncSession, charge_point_id: str, *, limit: int = 100, before_id: int | None = None
) -> list[OcppMessage]:
    """The newest frames of a charger first; page backwards with `before_id`."""
    query = select(OcppMessage).where(OcppMessage.charge_point_id == charge_point_id)
    if before_id is not None:
        query = query.where(OcppMessage.id < before_id)
    query = query.order_by(OcppMessage.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
