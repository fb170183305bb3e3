"""The OCPP message log: every frame in and out, per charger, written in batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import BatchWriter
from csms.db.models import Base, OcppMessage
from csms.db.storable_text import escape_unstorable

# The table, not the mapped class: a plain executemany instead of the ORM's bulk insert.
_INSERT_FRAME = insert(Base.metadata.tables[OcppMessage.__tablename__])

INCOMING = "in"
OUTGOING = "out"


class MessageLog:
    """Hands every frame to the BatchWriter, which commits it with the next batch of charger data.

    The rows ride the writer's transactions rather than a connection of their own: on SQLite a second
    writer waits for the lock in the database's busy handler, which sleeps in steps of up to 100 ms.
    And they go over one by one rather than as a periodic flush: a flush puts many frames' rows into one
    batch under load, and every charger's answer in that batch waits for all of them.
    """

    def __init__(self, writer: BatchWriter, *, clock: Callable[[], datetime]) -> None:
        self._writer = writer
        self._clock = clock

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
        # A record of what arrived, refused frames included: text the database cannot store is escaped.
        row = {
            "charge_point_id": charge_point_id,
            "direction": direction,
            "frame": escape_unstorable(frame),
            "message_type": message_type,
            "unique_id": escape_unstorable(unique_id)[:64] if unique_id else unique_id,
            "action": escape_unstorable(action)[:64] if action else action,
            "created_at": self._clock(),
        }
        self._writer.write_soon((_INSERT_FRAME, [row]))

    async def flush(self) -> None:
        """Wait until every frame recorded so far is committed."""
        await self._writer.flush()


async def list_messages(
    session: AsyncSession, charge_point_id: str, *, limit: int = 100, before_id: int | None = None
) -> list[OcppMessage]:
    """The newest frames of a charger first; page backwards with `before_id`."""
    query = select(OcppMessage).where(OcppMessage.charge_point_id == charge_point_id)
    if before_id is not None:
        query = query.where(OcppMessage.id < before_id)
    query = query.order_by(OcppMessage.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
