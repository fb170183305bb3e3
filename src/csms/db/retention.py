"""Deleting old rows without holding up chargers' writes."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Select, Table, delete

from csms.db.batch_writer import BatchWriter


async def delete_in_batches(writer: BatchWriter, table: Table, batch: Select[Any]) -> int:
    """Delete the rows whose ids `batch` selects (a limited select of `table.c.id`), batch after batch
    until it selects none; the rows deleted.

    Each batch is one short transaction of the BatchWriter, so chargers' writes take turns with it
    instead of waiting behind one long delete.
    """
    deleted = 0
    while True:
        async with writer.transaction() as connection:
            ids = list((await connection.scalars(batch)).all())
            if ids:
                await connection.execute(delete(table).where(table.c.id.in_(ids)))
        if not ids:
            return deleted
        deleted += len(ids)
        await asyncio.sleep(0)  # chargers' writes go between two batches
