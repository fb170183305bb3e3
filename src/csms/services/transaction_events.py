"""The event history of 2.x transactions: every TransactionEvent kept once, in the order of its seqNo.

A station numbers the events of all its transactions (seqNo) and replays those it got no answer to,
offline ones after reconnecting: the same seqNo again is stored once, and a gap in the numbers (an
event lost on the way) is reported to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, String, bindparam, func, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from csms.db.batch_writer import BatchWriter
from csms.db.models import Transaction, TransactionEvent
from csms.db.sqlite_thread import Part
from csms.db.write_journal import journaled


@dataclass(frozen=True, slots=True)
class EventRecord:
    transaction_id: int
    seq_no: int
    event_type: str  # Started, Updated, Ended
    trigger_reason: str
    timestamp: datetime
    offline: bool
    charging_state: str | None
    stopped_reason: str | None
    payload: str  # the request as the station sent it, JSON
    received_at: datetime


_EVENT_COLUMNS = tuple(field.name for field in fields(EventRecord))


def _build_insert(dialect_name: str) -> Executable:
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(TransactionEvent)
    return statement.on_conflict_do_nothing(index_elements=[TransactionEvent.transaction_id, TransactionEvent.seq_no])


# Built at import for both dialects: a journal written before a restart finds them by name at once.
_INSERTS: dict[str, Executable] = {
    name: journaled(f"transaction_event.insert.{name}", _build_insert(name)) for name in ("sqlite", "postgresql")
}
# The transaction follows its newest event only: a replayed older one changes neither number nor state.
_ADVANCE = journaled(
    "transaction.advance_events",
    update(Transaction)
    .where(
        Transaction.id == bindparam("transaction"),
        or_(Transaction.last_seq_no.is_(None), Transaction.last_seq_no < bindparam("seq")),
    )
    .values(
        last_seq_no=bindparam("seq"),
        charging_state=func.coalesce(bindparam("state", type_=String), Transaction.charging_state),
    )
    .execution_options(synchronize_session=False),
)


async def record_event(writer: BatchWriter, event: EventRecord, *also: Part) -> None:
    """Keep the event (once) and move its transaction to it, with `also` in the same commit (the event's
    meter values): one wait for the writer, not one per part."""
    row: dict[str, Any] = {name: getattr(event, name) for name in _EVENT_COLUMNS}  # asdict would deep-copy
    advance = {"transaction": event.transaction_id, "seq": event.seq_no, "state": event.charging_state}
    insert = _INSERTS["sqlite" if writer.dialect_name == "sqlite" else "postgresql"]
    await writer.write((insert, [row]), (_ADVANCE, [advance]), *also)


def missing_before(seq_no: int, last_seq_no: int | None) -> range:
    """The seqNos lost between the last event seen and this one (empty when none, or for a replay)."""
    if last_seq_no is None or seq_no <= last_seq_no + 1:
        return range(0)
    return range(last_seq_no + 1, seq_no)
