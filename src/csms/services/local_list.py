"""Local authorization lists (OCPP 1.6 §3.5, §5.15), built from csms's own idTags.

csms remembers, per charger, the list version it holds and every entry it was sent, so a
Differential update carries exactly what changed since: tags blocked, expired, unblocked, added
or removed. The version only moves when the charger accepts an update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import IdTag, LocalListEntry, LocalListState, User
from csms.services.calls import Send
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.errors import InvalidInput
from csms.services.id_tags import tag_status

logger = logging.getLogger(__name__)

FULL = "Full"
DIFFERENTIAL = "Differential"


@dataclass(frozen=True, slots=True)
class Entry:
    id_tag: str
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


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


def to_payload(update: LocalListUpdate) -> dict[str, Any]:
    """The SendLocalList payload; a removal is an entry without idTagInfo (§5.15)."""
    listed: list[dict[str, Any]] = [
        {"idTag": entry.id_tag, "idTagInfo": _id_tag_info(entry)} for entry in update.entries
    ]
    listed += [{"idTag": id_tag} for id_tag in update.removals]
    return {"listVersion": update.list_version, "updateType": update.update_type, "localAuthorizationList": listed}


def update_from_payload(payload: dict[str, Any]) -> LocalListUpdate:
    """The update an operator's own SendLocalList call carried."""
    entries, removals = [], []
    for item in payload.get("localAuthorizationList", []):
        info = item.get("idTagInfo")
        if info is None:
            removals.append(item["idTag"])
            continue
        expiry = info.get("expiryDate")
        entries.append(
            Entry(
                item["idTag"], info["status"], parse_ocpp_timestamp(expiry) if expiry else None, info.get("parentIdTag")
            )
        )
    return LocalListUpdate(int(payload["listVersion"]), str(payload["updateType"]), entries, removals)


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
    send: Send,
    charge_point_id: str,
    *,
    update_type: str,
    now: datetime,
) -> tuple[str, LocalListUpdate]:
    """Send the next update and record it when accepted; a version mismatch falls back to a Full update."""
    async with session_factory() as session:
        update = await plan_update(session, charge_point_id, update_type=update_type, now=now)
    answer = await send(charge_point_id, "SendLocalList", to_payload(update))
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
        self, session_factory: async_sessionmaker[AsyncSession], send: Send, *, clock: Callable[[], datetime]
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

    async def run_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.push_changes()
            except Exception:
                logger.exception("local list push failed; will retry")


async def _push_to(
    session_factory: async_sessionmaker[AsyncSession], send: Send, charge_point_id: str, *, now: datetime
) -> None:
    async with session_factory() as session:
        update = await plan_update(session, charge_point_id, update_type=DIFFERENTIAL, now=now)
    if not update.is_empty:
        await send_update(session_factory, send, charge_point_id, update_type=DIFFERENTIAL, now=now)


async def _current_entries(session: AsyncSession, *, now: datetime) -> dict[str, Entry]:
    rows = await session.execute(select(IdTag, User.is_active).outerjoin(User, IdTag.user_id == User.id))
    entries = {}
    for tag, owner_is_active in rows.all():
        info = tag_status(tag, owner_is_active, now=now)
        entries[tag.id_tag] = Entry(tag.id_tag, info.status, info.expiry_date, info.parent_id_tag)
    return entries


def _id_tag_info(entry: Entry) -> dict[str, Any]:
    info: dict[str, Any] = {"status": entry.status}
    if entry.expiry_date is not None:
        info["expiryDate"] = format_ocpp_timestamp(entry.expiry_date)
    if entry.parent_id_tag is not None:
        info["parentIdTag"] = entry.parent_id_tag
    return info
