"""Messages on 2.x stations' displays (block O): put on one station or a group, listed, cleared, and
what a station reports it shows.

csms numbers each message (its id is the message id every station gets, SetDisplayMessage) and keeps
each station's answer. A 1.6 charger has no display messages: it is reported NotSupported and the
others still get theirs; a station that is offline or does not answer is reported so. Clearing sends
ClearDisplayMessage to every station that accepted the message. What a station reports of its display
(NotifyDisplayMessages, the answer to GetDisplayMessages) is kept per station by its own message id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import Charger, DisplayMessage, DisplayMessageStation, ReportedDisplayMessage
from csms.domain.commands import ChargerCommand, ClearDisplayMessage, ShowDisplayMessage
from csms.services.chargers import OCPP_16
from csms.services.errors import Conflict, InvalidInput, NotFound

ACCEPTED = "Accepted"
# csms's own outcomes for a station, beside the station's answers.
NOT_SUPPORTED, SENDING, CLEARED = "NotSupported", "Sending", "Cleared"
MAX_STATIONS = 500

# Carries out a command on a station and gives its answer's status, or csms's word for why there is
# none (NotSupported, NotConnected, Timeout, SendFailed): the API maps the gateway's errors to these.
Deliver = Callable[[str, ChargerCommand], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """What to show, and when: 2.0.1 MessageInfoType without the id, which csms chooses."""

    content: str
    priority: str
    format: str = "UTF8"
    language: str | None = None
    state: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReportedMessage:
    """One messageInfo of a NotifyDisplayMessages; `display` is its component as "name" or "name/instance"."""

    message_id: int
    spec: MessageSpec
    display: str | None = None


async def create_message(
    session: AsyncSession,
    spec: MessageSpec,
    charge_point_ids: Sequence[str],
    *,
    created_by: int | None,
    now: datetime,
) -> tuple[DisplayMessage, list[DisplayMessageStation]]:
    """The message and one Sending row per station; NotFound names unknown chargers, InvalidInput a bad window.
    A 1.6 charger's row is NotSupported at once."""
    stations = list(dict.fromkeys(charge_point_ids))
    if spec.start_at is not None and spec.end_at is not None and spec.end_at <= spec.start_at:
        raise InvalidInput("end_at must be after start_at")
    found = {
        charger.charge_point_id: charger
        for charger in await session.scalars(select(Charger).where(Charger.charge_point_id.in_(stations)))
    }
    unknown = [station for station in stations if station not in found]
    if unknown:
        raise NotFound(f"unknown chargers {unknown}")
    message = DisplayMessage(
        content=spec.content,
        language=spec.language,
        format=spec.format,
        priority=spec.priority,
        state=spec.state,
        start_at=spec.start_at,
        end_at=spec.end_at,
        transaction_id=spec.transaction_id,
        created_by=created_by,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    rows = [
        DisplayMessageStation(
            message_id=message.id,
            charge_point_id=station,
            status=NOT_SUPPORTED if found[station].ocpp_version == OCPP_16 else SENDING,
            updated_at=now,
        )
        for station in stations
    ]
    session.add_all(rows)
    await session.commit()
    return message, rows


def show_command(message: DisplayMessage) -> ShowDisplayMessage:
    return ShowDisplayMessage(
        message_id=message.id,
        content=message.content,
        priority=message.priority,
        format=message.format,
        language=message.language,
        state=message.state,
        start_at=message.start_at,
        end_at=message.end_at,
        transaction_id=message.transaction_id,
    )


async def put_on_stations(
    session_factory: async_sessionmaker[AsyncSession],
    deliver: Deliver,
    message: DisplayMessage,
    *,
    clock: Callable[[], datetime],
) -> list[DisplayMessageStation]:
    """Send the message to each of its stations still Sending, at once, and record each answer."""
    command = show_command(message)
    async with session_factory() as session:
        waiting = [row.charge_point_id for row in await _stations(session, message.id) if row.status == SENDING]
    statuses = await asyncio.gather(*(deliver(station, command) for station in waiting))
    return await _record_statuses(session_factory, message.id, dict(zip(waiting, statuses, strict=True)), clock())


async def clear_message(
    session_factory: async_sessionmaker[AsyncSession],
    deliver: Deliver,
    message_id: int,
    *,
    clock: Callable[[], datetime],
) -> tuple[DisplayMessage, list[DisplayMessageStation]]:
    """ClearDisplayMessage to every station that accepted the message; each row says what came of it.
    The message counts as cleared once no station is left holding it."""
    async with session_factory() as session:
        message = await _message(session, message_id)
        if message.cleared_at is not None:
            raise Conflict(f"display message {message_id} is already cleared")
        holding = [row.charge_point_id for row in await _stations(session, message_id) if row.status == ACCEPTED]
    command = ClearDisplayMessage(message_id)
    answers = await asyncio.gather(*(deliver(station, command) for station in holding))
    # Unknown: the station no longer has it (it expired or was replaced), which is cleared too.
    outcome = {
        station: CLEARED if answer in (ACCEPTED, "Unknown") else answer
        for station, answer in zip(holding, answers, strict=True)
    }
    rows = await _record_statuses(session_factory, message_id, outcome, clock())
    async with session_factory() as session:
        message = await _message(session, message_id)
        if all(row.status != ACCEPTED for row in rows):
            message.cleared_at = clock()
            await session.commit()
            await session.refresh(message)
    return message, rows


async def list_messages(
    session: AsyncSession, *, include_cleared: bool = True
) -> list[tuple[DisplayMessage, list[DisplayMessageStation]]]:
    """Every message csms set, newest first, with its stations."""
    query = select(DisplayMessage).order_by(DisplayMessage.id.desc())
    if not include_cleared:
        query = query.where(DisplayMessage.cleared_at.is_(None))
    messages = list((await session.scalars(query)).all())
    by_message: dict[int, list[DisplayMessageStation]] = {message.id: [] for message in messages}
    if messages:
        rows = await session.scalars(
            select(DisplayMessageStation)
            .where(DisplayMessageStation.message_id.in_(by_message))
            .order_by(DisplayMessageStation.charge_point_id)
        )
        for row in rows:
            by_message[row.message_id].append(row)
    return [(message, by_message[message.id]) for message in messages]


async def record_reported(
    session: AsyncSession, charge_point_id: str, request_id: int, messages: Sequence[ReportedMessage], *, now: datetime
) -> None:
    """One NotifyDisplayMessages part: each message replaces what csms knew under the station's id of it."""
    rows = {
        reported.message_id: {
            "charge_point_id": charge_point_id,
            "message_id": reported.message_id,
            "request_id": request_id,
            "content": reported.spec.content,
            "language": reported.spec.language,
            "format": reported.spec.format,
            "priority": reported.spec.priority,
            "state": reported.spec.state,
            "start_at": reported.spec.start_at,
            "end_at": reported.spec.end_at,
            "transaction_id": reported.spec.transaction_id,
            "display": reported.display,
            "reported_at": now,
        }
        for reported in messages
    }
    if rows:
        dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
        statement = dialect_insert(ReportedDisplayMessage)
        statement = statement.on_conflict_do_update(
            index_elements=[ReportedDisplayMessage.charge_point_id, ReportedDisplayMessage.message_id],
            set_={column: statement.excluded[column] for column in next(iter(rows.values())) if column != "message_id"},
        )
        await session.execute(statement, list(rows.values()))
    await session.commit()


async def list_reported(session: AsyncSession, charge_point_id: str) -> list[ReportedDisplayMessage]:
    query = (
        select(ReportedDisplayMessage)
        .where(ReportedDisplayMessage.charge_point_id == charge_point_id)
        .order_by(ReportedDisplayMessage.message_id)
    )
    return list((await session.scalars(query)).all())


async def _message(session: AsyncSession, message_id: int) -> DisplayMessage:
    message = await session.get(DisplayMessage, message_id)
    if message is None:
        raise NotFound(f"display message {message_id} not found")
    return message


async def _stations(session: AsyncSession, message_id: int) -> list[DisplayMessageStation]:
    query = (
        select(DisplayMessageStation)
        .where(DisplayMessageStation.message_id == message_id)
        .order_by(DisplayMessageStation.charge_point_id)
    )
    return list((await session.scalars(query)).all())


async def _record_statuses(
    session_factory: async_sessionmaker[AsyncSession], message_id: int, statuses: dict[str, str], now: datetime
) -> list[DisplayMessageStation]:
    async with session_factory() as session:
        rows = await _stations(session, message_id)
        for row in rows:
            if row.charge_point_id in statuses:
                row.status, row.updated_at = statuses[row.charge_point_id], now
        await session.commit()
        return await _stations(session, message_id)
