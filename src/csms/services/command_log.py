"""The record of calls to chargers: who asked, from which node, and what the charger answered.

The node holding the socket writes what it did with each call (also csms's own calls, and calls it
refused or dropped because their deadline had passed on the way). The node that asked writes a row
only when no answer came back through the bus in time: its caller got 504, and a row of the holding
node beside it showing the charger's answer is the late answer the caller never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import BatchWriter
from csms.db.models import ChargerCommandRecord
from csms.db.storable_text import escape_unstorable
from csms.db.write_journal import journaled
from csms.services.security_log import RepeatedEvents

_INSERT = journaled("charger_command.insert", insert(ChargerCommandRecord))

NO_BUS_ANSWER = "no_bus_answer"
# What the charger answered (or refused to do): the call reached it.
_REACHED_CHARGER = frozenset({"answered", "rejected"})


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    command_id: str
    charge_point_id: str
    action: str
    requested_by: str
    origin_node: str
    node: str
    outcome: str
    answer_status: str | None = None
    detail: str | None = None


class CommandLog:
    """Where CommandRouter keeps its records and the security events of commands it refused to open."""

    def __init__(self, writer: BatchWriter, security_events: RepeatedEvents, *, clock: Callable[[], datetime]) -> None:
        self._writer = writer
        self._security_events = security_events
        self._clock = clock

    def record(self, outcome: CommandOutcome) -> None:
        row = {
            "command_id": outcome.command_id[:32],
            "charge_point_id": outcome.charge_point_id[:64],
            "action": outcome.action[:64],
            "requested_by": escape_unstorable(outcome.requested_by)[:160],
            "origin_node": escape_unstorable(outcome.origin_node)[:32],
            "node": outcome.node[:32],
            "outcome": outcome.outcome,
            "answer_status": outcome.answer_status[:64] if outcome.answer_status else None,
            "detail": escape_unstorable(outcome.detail) if outcome.detail else None,
            "created_at": self._clock(),
        }
        self._writer.write_soon((_INSERT, [row]))

    def refused(self, *, kind: str, charge_point_id: str, detail: str) -> None:
        self._security_events.record(kind=kind, charge_point_id=charge_point_id, remote_address=None, detail=detail)


@dataclass(frozen=True, slots=True)
class CommandView:
    """One command as the operator sees it, from the rows of every node that touched it."""

    command_id: str
    charge_point_id: str
    action: str
    requested_by: str
    origin_node: str
    executed_by: str | None
    outcome: str
    answer_status: str | None
    detail: str | None
    caller_got_no_answer: bool
    answered_late: bool
    created_at: datetime


async def list_commands(session: AsyncSession, charge_point_id: str, *, limit: int = 100) -> list[CommandView]:
    """The charger's commands, newest first; `answered_late`: the caller got 504 but the charger had answered."""
    query = (
        select(ChargerCommandRecord)
        .where(ChargerCommandRecord.charge_point_id == charge_point_id)
        .order_by(ChargerCommandRecord.id.desc())
        .limit(2 * limit)
    )
    by_command: dict[str, list[ChargerCommandRecord]] = {}
    for row in (await session.scalars(query)).all():
        by_command.setdefault(row.command_id, []).append(row)
    return [_view(rows) for rows in list(by_command.values())[:limit]]


def _view(rows: list[ChargerCommandRecord]) -> CommandView:
    asked = [row for row in rows if row.outcome == NO_BUS_ANSWER]
    executed = next((row for row in rows if row.outcome != NO_BUS_ANSWER), None)
    shown = executed or asked[0]
    return CommandView(
        command_id=shown.command_id,
        charge_point_id=shown.charge_point_id,
        action=shown.action,
        requested_by=shown.requested_by,
        origin_node=shown.origin_node,
        executed_by=executed.node if executed else None,
        outcome=shown.outcome,
        answer_status=shown.answer_status,
        detail=shown.detail,
        caller_got_no_answer=bool(asked),
        answered_late=bool(asked) and executed is not None and executed.outcome in _REACHED_CHARGER,
        created_at=min(row.created_at for row in rows),
    )


def answer_status(answer: dict[str, Any]) -> str | None:
    status = answer.get("status")
    return str(status) if status is not None else None
