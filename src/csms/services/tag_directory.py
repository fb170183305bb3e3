"""What every idTag is worth, kept in memory: Authorize and StartTransaction answer without a read.

Chargers ask about idTags far more often than anyone changes one, and a read per Authorize and
StartTransaction was a large share of a node's work. Each tag is read once (unknown tags too) and kept
until a committed session adds, changes or deletes an idTag, or changes whether an account is active.
Such a commit drops the copy on this node at once and, through the bus, on every other node; the next
question reads the tag again. Expiry needs no dropping: it is compared with the clock at every answer.
A node that missed such an announcement (its bus link was down) still drops its copies in bounded
time: no copy is older than `max_age`, and all go when the tags' change counter moves or the bus comes
back (services/cache_freshness.py).

The sessions to watch are those of `watch_commits(session_factory, directory)`; every write to idTags
and accounts goes through the ORM there, so no write site has to remember the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from csms.bus import Bus, Message
from csms.bus.follower import Follower
from csms.db.models import IdTag, OcpiParty, OcpiToken, Transaction, User, Vehicle
from csms.services.background import BackgroundTasks

if TYPE_CHECKING:
    from csms.services.id_tags import IdTagInfo

CHANGES = "csms.id_tags.changed"
_DIRECTORY = "csms.tag_directory"
_CHANGED_TAGS = "csms.tag_directory.changed"
_EVERY_TAG = "*"
# Every roaming token, and none of csms's own tags: an OCPI party's state changed. No idTag reads so: an idTag
# is CiString20, and this is longer.
EVERY_ROAMING_ID = "*every-roaming-id*"


@dataclass(frozen=True, slots=True)
class KnownTag:
    """An idTag as the database holds it, with whether its owner's account is active."""

    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None
    user_id: int | None
    vehicle_id: int | None
    owner_is_active: bool | None
    type: str | None = None  # the 2.x IdTokenEnumType it was registered with; None: any (a 1.6 idTag)


class RoamingLookup(Protocol):
    """Tokens of other networks (services/ocpi_tokens.py), asked about a tag csms does not know."""

    async def authorize(
        self, id_tag: str, *, id_token_type: str | None, place: tuple[str, int | None] | None, now: datetime
    ) -> IdTagInfo | None:
        """The answer for a roaming token at `place` (charger, connector), None when there is no such token."""
        ...

    def drop(self, id_tags: set[str]) -> None:
        """Forget what is kept of these tags (`{"*"}` or `{EVERY_ROAMING_ID}`: of every token)."""
        ...

    def forget_all(self) -> None:
        """Forget every token kept (changes on other nodes may have been missed)."""
        ...


class TagDirectory:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        *,
        max_age: float = 30.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
        on_changed: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._max_age = max_age
        self._max_entries = max_entries
        self._clock = clock
        self._on_changed = on_changed  # told of every change made or announced, not of wholesale drops
        self._tags: dict[str, tuple[KnownTag | None, float]] = {}  # None: no such tag; when it was read
        self._generation = 0  # a change while a read is under way must win over that read
        self._follower = Follower(bus, CHANGES, self._drop_announced)
        self._announcements = BackgroundTasks()
        # Tokens of roaming partners, kept beside these tags and dropped with them (set once, by the app).
        self.roaming: RoamingLookup | None = None

    async def lookup(self, id_tag: str) -> KnownTag | None:
        """The tag, or None when no such tag exists."""
        kept = self._tags.get(id_tag)
        if kept is not None and self._clock() - kept[1] <= self._max_age:
            return kept[0]
        generation, read_at = self._generation, self._clock()
        async with self._engine.connect() as connection:
            row = (await connection.execute(_READ_TAG, {"id_tag": id_tag})).first()
        known = KnownTag(*row) if row is not None else None
        if generation == self._generation:
            if len(self._tags) >= self._max_entries:
                self._tags.clear()
            self._tags[id_tag] = (known, read_at)
        return known

    async def has_open_transaction(
        self, id_tag: str, *, except_id: int | None = None, except_on: tuple[str, int] | None = None
    ) -> bool:
        """Whether a charging session with this tag is open. Never cached: it changes with every start and stop.

        Only a transaction whose start was answered Accepted counts: one answered ConcurrentTx (or
        anything else) was never a charging session, whether or not its charger ever stops it.
        `except_on` (charger, connector) leaves out what is open on the connector a start arrives
        on: that start ends it (services/open_transactions.py).
        """
        query = _OPEN_TRANSACTION if except_id is None else _OPEN_TRANSACTION.where(Transaction.id != except_id)
        if except_on is not None:
            charge_point_id, connector_id = except_on
            query = query.where(
                (Transaction.charge_point_id != charge_point_id) | (Transaction.connector_id != connector_id)
            )
        async with self._engine.connect() as connection:
            return (await connection.execute(query, {"id_tag": id_tag})).first() is not None

    def changed(self, id_tags: set[str]) -> None:
        """Drop these tags (`{"*"}`: every tag) here at once, and on the other nodes through the bus."""
        self._announce_here(id_tags)
        self._announcements.spawn(self._bus.publish(CHANGES, {"id_tags": sorted(id_tags)}), name="id-tags-changed")

    def forget_all(self) -> None:
        """Drop every tag on this node only (changes on other nodes may have been missed)."""
        self._drop({_EVERY_TAG})

    async def start(self) -> None:
        await self._follower.start()

    async def close(self) -> None:
        await self._follower.close()
        await self._announcements.wait()

    async def _drop_announced(self, message: Message) -> None:
        self._announce_here(set(message.get("id_tags", [_EVERY_TAG])))

    def _announce_here(self, id_tags: set[str]) -> None:
        self._drop(id_tags)
        if self._on_changed is not None:
            self._on_changed(id_tags)

    def _drop(self, id_tags: set[str]) -> None:
        self._generation += 1
        if self.roaming is not None:
            self.roaming.drop(id_tags)
        if _EVERY_TAG in id_tags:
            self._tags.clear()
            return
        for id_tag in id_tags:
            self._tags.pop(id_tag, None)


_READ_TAG = (
    select(
        IdTag.status,
        IdTag.expiry_date,
        IdTag.parent_id_tag,
        IdTag.user_id,
        IdTag.vehicle_id,
        User.is_active,
        IdTag.type,
    )
    .outerjoin(User, IdTag.user_id == User.id)
    .where(IdTag.id_tag == bindparam("id_tag"))
)

_OPEN_TRANSACTION = (
    select(Transaction.id)
    .where(
        Transaction.id_tag == bindparam("id_tag"),
        Transaction.stop_timestamp.is_(None),
        Transaction.id_tag_status == "Accepted",
    )
    .limit(1)
)


def watch_commits(session_factory: async_sessionmaker[AsyncSession], directory: TagDirectory) -> None:
    """Sessions of this factory tell `directory` which tags their commits changed."""
    session_factory.configure(info={_DIRECTORY: directory})


@event.listens_for(Session, "after_flush")
def _note_changed_tags(session: Session, _flush_context: Any) -> None:
    if _DIRECTORY not in session.info:
        return
    changed: set[str] = session.info.setdefault(_CHANGED_TAGS, set())
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, IdTag):
            changed.add(row.id_tag)
        elif isinstance(row, OcpiToken):
            changed.add(row.uid)
        elif isinstance(row, OcpiParty):
            if _changes_party_state(session, row):
                changed.add(EVERY_ROAMING_ID)
        elif _drops_tags_of_others(session, row):
            changed.add(_EVERY_TAG)  # the tags it touches are not at hand here; this is rare


def _drops_tags_of_others(session: Session, row: object) -> bool:
    """An account blocked, unblocked or deleted, or a vehicle deleted (its tags lose it)."""
    if isinstance(row, User):
        return row in session.deleted or inspect(row).attrs.is_active.history.has_changes()
    return isinstance(row, Vehicle) and row in session.deleted


def _changes_party_state(session: Session, party: OcpiParty) -> bool:
    """Its roaming tokens open something, or nothing, from now on (a new party has no tokens yet)."""
    return party in session.deleted or (party not in session.new and inspect(party).attrs.state.history.has_changes())


@event.listens_for(Session, "after_commit")
def _drop_changed_tags(session: Session) -> None:
    changed = session.info.pop(_CHANGED_TAGS, None)
    if changed:
        session.info[_DIRECTORY].changed(changed)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED_TAGS, None)
