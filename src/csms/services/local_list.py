"""Local authorization lists (OCPP 1.6 §3.5, §5.15; 2.0.1 block D), built from csms's own idTags.

csms remembers, per charger, the list version it holds and every entry it was sent, so a
Differential update carries exactly what changed since: tags blocked, expired, unblocked, added
or removed. The version only moves when the charger accepts an update. The update goes out as a neutral
`SendLocalList` command, which the charger's version package spells.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import IdTag, LocalListEntry, LocalListState, User
from csms.domain.commands import (
    CARD_ID_TYPE,
    CENTRAL_ID_TYPE,
    DIFFERENTIAL,
    FULL,
    ChargerCommand,
    GetLocalListVersion,
    ListedToken,
    SendLocalList,
)
from csms.services.calls import SendCommand
from csms.services.errors import InvalidInput
from csms.services.id_tags import tag_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    id_tag: str
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    # The 2.x idToken type it is sent with; what a charger holds is compared without it (not stored).
    id_token_type: str = field(default=CARD_ID_TYPE, compare=False)


@dataclass(frozen=True, slots=True)
class LocalListUpdate:
    list_version: int
    update_type: str
    entries: list[Entry] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.entries and not self.removals


async def plan_update(
    session: AsyncSession, charge_point_id: str, *, update_type: str, now: datetime
) -> LocalListUpdate:
    """The next update for a charger: every idTag (Full) or what changed since its last one (Differential)."""
    if update_type not in (FULL, DIFFERENTIAL):
        raise InvalidInput("update_type is Full or Differential")
    state = await session.get(LocalListState, charge_point_id)
    version = (state.list_version if state else 0) + 1
    wanted = await _current_entries(session, now=now)
    if update_type == FULL:
        return LocalListUpdate(version, FULL, sorted(wanted.values(), key=lambda entry: entry.id_tag))
    held = {entry.id_tag: entry for entry in await list_entries(session, charge_point_id)}
    changed = [entry for tag, entry in sorted(wanted.items()) if held.get(tag) != entry]
    return LocalListUpdate(version, DIFFERENTIAL, changed, sorted(set(held) - set(wanted)))


def to_command(update: LocalListUpdate) -> SendLocalList:
    """The SendLocalList command of an update; a removal is a token without a status."""
    listed = [
        ListedToken(entry.id_tag, entry.status, entry.expiry_date, entry.parent_id_tag, entry.id_token_type)
        for entry in update.entries
    ]
    listed += [ListedToken(id_tag) for id_tag in update.removals]
    return SendLocalList(update.list_version, update.update_type, tuple(listed))


def update_from_command(command: SendLocalList) -> LocalListUpdate:
    """The update an operator's own SendLocalList call carried."""
    entries, removals = [], []
    for listed in command.entries:
        if listed.status is None:
            removals.append(listed.id_token)
        else:
            entry = Entry(listed.id_token, listed.status, listed.expiry, listed.group_id_token, listed.id_token_type)
            entries.append(entry)
    return LocalListUpdate(command.version_number, command.update_type, entries, removals)


async def record_answer(
    session: AsyncSession, charge_point_id: str, command: ChargerCommand, answer: dict[str, Any], *, now: datetime
) -> None:
    """Keep what an operator's own local-list call changed; `answer` as the version package read it."""
    if isinstance(command, SendLocalList) and answer.get("status") == "Accepted":
        await record_accepted(session, charge_point_id, update_from_command(command), now=now)
    elif isinstance(command, GetLocalListVersion):
        await record_reported_version(session, charge_point_id, int(answer["versionNumber"]), now=now)


async def record_accepted(
    session: AsyncSession, charge_point_id: str, update: LocalListUpdate, *, now: datetime
) -> None:
    """The charger accepted `update`: it now holds that version and those entries."""
    if update.update_type == FULL:
        await session.execute(delete(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id))
    gone = update.removals + [entry.id_tag for entry in update.entries]
    if gone and update.update_type != FULL:
        await session.execute(
            delete(LocalListEntry).where(
                LocalListEntry.charge_point_id == charge_point_id, LocalListEntry.id_tag.in_(gone)
            )
        )
    session.add_all(
        LocalListEntry(
            charge_point_id=charge_point_id,
            id_tag=entry.id_tag,
            status=entry.status,
            expiry_date=entry.expiry_date,
            parent_id_tag=entry.parent_id_tag,
        )
        for entry in update.entries
    )
    state = await session.get(LocalListState, charge_point_id)
    if state is None:
        session.add(LocalListState(charge_point_id=charge_point_id, list_version=update.list_version, updated_at=now))
    else:
        state.list_version, state.updated_at = update.list_version, now
    await session.commit()


async def record_reported_version(session: AsyncSession, charge_point_id: str, version: int, *, now: datetime) -> None:
    """What GetLocalListVersion answered (-1: no support, 0: no list)."""
    state = await session.get(LocalListState, charge_point_id)
    if state is None:
        state = LocalListState(charge_point_id=charge_point_id, list_version=max(version, 0), updated_at=now)
        session.add(state)
    state.reported_version = version
    await session.commit()


async def get_state(session: AsyncSession, charge_point_id: str) -> LocalListState | None:
    return await session.get(LocalListState, charge_point_id)


async def list_entries(session: AsyncSession, charge_point_id: str) -> list[Entry]:
    query = (
        select(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id).order_by(LocalListEntry.id_tag)
    )
    return [
        Entry(row.id_tag, row.status, row.expiry_date, row.parent_id_tag)
        for row in (await session.scalars(query)).all()
    ]


async def send_update(
    session_factory: async_sessionmaker[AsyncSession],
    send: SendCommand,
    charge_point_id: str,
    *,
    update_type: str,
    now: datetime,
) -> tuple[str, LocalListUpdate]:
    """Send the next update and record it when accepted; a version mismatch falls back to a Full update."""
    async with session_factory() as session:
        update = await plan_update(session, charge_point_id, update_type=update_type, now=now)
    answer = await send(charge_point_id, to_command(update))
    status = str(answer.get("status"))
    if status == "VersionMismatch" and update_type == DIFFERENTIAL:
        return await send_update(session_factory, send, charge_point_id, update_type=FULL, now=now)
    if status == "Accepted":
        async with session_factory() as session:
            await record_accepted(session, charge_point_id, update, now=now)
    return status, update


class LocalListPusher:
    """Sends every charger holding a local list what changed in the idTags since its last update.

    Pushes run one at a time, so two changes in a row never race for the same list version. A
    charger that is offline or refuses keeps its old version; the next push sends it the change,
    and a periodic push catches tags that expire by time.
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], send: SendCommand, *, clock: Callable[[], datetime]
    ) -> None:
        self._session_factory = session_factory
        self._send = send
        self._clock = clock
        self._lock = asyncio.Lock()

    async def push_changes(self, *, now: datetime | None = None) -> None:
        """Send every charger holding a list what changed since its version, tags judged at `now`."""
        async with self._lock:
            async with self._session_factory() as session:
                holders = list((await session.scalars(select(LocalListState.charge_point_id))).all())
            for charge_point_id in holders:
                try:
                    await _push_to(self._session_factory, self._send, charge_point_id, now=now or self._clock())
                except Exception as error:  # one charger's failure never stops the others'
                    logger.info("local list of %s not updated: %s", charge_point_id, error)

    async def send_update(
        self, charge_point_id: str, *, update_type: str, now: datetime
    ) -> tuple[str, LocalListUpdate]:
        """An operator's update of one charger's list, in turn with the pushes: both number the next version
        from the last accepted one, so run together they would send two updates under the same number."""
        async with self._lock:
            return await send_update(
                self._session_factory, self._send, charge_point_id, update_type=update_type, now=now
            )

    async def run_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.push_changes()
            except Exception:
                logger.exception("local list push failed; will retry")


async def _push_to(
    session_factory: async_sessionmaker[AsyncSession], send: SendCommand, charge_point_id: str, *, now: datetime
) -> None:
    async with session_factory() as session:
        update = await plan_update(session, charge_point_id, update_type=DIFFERENTIAL, now=now)
    if not update.is_empty:
        await send_update(session_factory, send, charge_point_id, update_type=DIFFERENTIAL, now=now)


async def _current_entries(session: AsyncSession, *, now: datetime) -> dict[str, Entry]:
    # An account's app tag is its first one (accounts.py): a token csms hands out itself.
    app_tags = select(func.min(IdTag.id)).where(IdTag.user_id.is_not(None)).group_by(IdTag.user_id)
    query = select(IdTag, User.is_active, IdTag.id.in_(app_tags)).outerjoin(User, IdTag.user_id == User.id)
    entries = {}
    for tag, owner_is_active, is_app_tag in (await session.execute(query)).all():
        info = tag_status(tag, owner_is_active, now=now)
        kind = tag.type or (CENTRAL_ID_TYPE if is_app_tag else CARD_ID_TYPE)
        entries[tag.id_tag] = Entry(tag.id_tag, info.status, info.expiry_date, info.parent_id_tag, kind)
    return entries
