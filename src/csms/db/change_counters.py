"""Counting, per kind of node cache, the commits that change what it holds (the cache_versions table).

Nodes keep idTags, logins, tariffs and webhooks in memory and hear of changes over the bus; a change
announced while a node's bus link was down would be missed by it for good. So every commit that
changes such rows raises its kind's counter in the same transaction, and every node reads the
counters every few seconds (services/cache_freshness.py). Any ORM session does it by itself: for
rows changed through the ORM, and for UPDATE and DELETE statements on logins and idTags run through
the session; no write site has to remember it.

The counters are raised last, just before the commit, one row at a time in a fixed order: of two
transactions raising the same counters, one waits for the other and neither holds a lock the other
needs (no deadlock on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, event, inspect, update
from sqlalchemy.orm import ORMExecuteState, Session

from csms.db.models import (
    AuthSession,
    CacheVersion,
    IdTag,
    OcpiParty,
    OcpiToken,
    Tariff,
    TariffAssignment,
    User,
    Vehicle,
    Webhook,
)

TAGS = "tags"
LOGINS = "logins"
TARIFFS = "tariffs"
WEBHOOKS = "webhooks"
OCPI_TOKENS = "ocpi_tokens"  # roaming tokens, kept beside the tags (services/ocpi_tokens.py)
KINDS = (TAGS, LOGINS, TARIFFS, WEBHOOKS, OCPI_TOKENS)

_CHANGED = "csms.change_counters.changed"
# What a webhook is for its subscribers; its delivery lease (delivering_node, delivering_until) changes
# every few seconds and is nobody's cached business.
_WEBHOOK_FIELDS = ("url", "secret", "events", "is_active")
# UPDATE and DELETE statements that change what a cache holds. The one bulk UPDATE of users (a
# reservation's row lock, reservations.py) changes nothing, and ORM changes of users are seen row by row.
_STATEMENT_KINDS = {AuthSession.__tablename__: {LOGINS}, IdTag.__tablename__: {TAGS}}

_RAISE = (
    update(CacheVersion).where(CacheVersion.kind == bindparam("changed_kind")).values(version=CacheVersion.version + 1)
)


def kinds_changed(session: Session, row: object) -> set[str]:
    """The caches that a pending change of `row` (new, changed or deleted in `session`) makes stale."""
    is_deleted = row in session.deleted
    if isinstance(row, IdTag):
        return {TAGS}
    if isinstance(row, OcpiToken):
        return {OCPI_TOKENS}  # an eMSP's sync of many tokens leaves the nodes' own tags cached
    if isinstance(row, OcpiParty):  # its tokens open something, or nothing, from now on
        return {OCPI_TOKENS} if is_deleted or (row not in session.new and _has_changes(row, ("state",))) else set()
    if isinstance(row, Tariff | TariffAssignment):
        return {TARIFFS}
    if isinstance(row, Webhook):
        return {WEBHOOKS} if row in session.new or is_deleted or _has_changes(row, _WEBHOOK_FIELDS) else set()
    if isinstance(row, User):
        if row in session.new:
            return set()  # a new account has no logins yet, and its idTags are rows of their own
        if is_deleted or _has_changes(row, ("is_active",)):
            return {TAGS, LOGINS}  # its tags answer Blocked, its logins end
        return {LOGINS} if _has_changes(row, ("role", "password_hash")) else set()
    if isinstance(row, AuthSession):
        return set() if row in session.new else {LOGINS}  # a new login makes nothing stale
    if isinstance(row, Vehicle) and is_deleted:
        return {TAGS}  # its tags lose it
    return set()


def _has_changes(row: object, fields: tuple[str, ...]) -> bool:
    attributes = inspect(row).attrs
    return any(attributes[name].history.has_changes() for name in fields)


def _note(session: Session, kinds: set[str]) -> None:
    if kinds:
        session.info.setdefault(_CHANGED, set()).update(kinds)


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _flush_context: Any) -> None:
    for row in (*session.new, *session.dirty, *session.deleted):
        _note(session, kinds_changed(session, row))


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if isinstance(table, Table):
            _note(state.session, _STATEMENT_KINDS.get(table.name, set()))


@event.listens_for(Session, "before_commit")
def _raise_counters(session: Session) -> None:
    session.flush()  # what is still pending is noted too, and the counters are the transaction's last locks
    changed = session.info.pop(_CHANGED, None)
    if not changed:
        return
    connection = session.connection()
    for kind in sorted(changed):
        connection.execute(_RAISE, {"changed_kind": kind})


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
