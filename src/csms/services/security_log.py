"""The security event log and the operators' audit log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import DATABASE_UNREACHABLE, BatchWriter
from csms.db.models import AuditRecord, Base, SecurityEvent
from csms.db.retention import delete_in_batches
from csms.db.storable_text import escape_unstorable
from csms.db.write_journal import journaled

logger = logging.getLogger(__name__)

_EVENTS = Base.metadata.tables[SecurityEvent.__tablename__]

_INSERT_EVENT = journaled("security_event.insert", insert(SecurityEvent))
_INSERT_AUDIT = journaled("audit_record.insert", insert(AuditRecord))

CHARGER = "charger"
# The security whitepaper's events that it marks critical (OCPP 1.6 Security Whitepaper ed. 3, appendix 1):
# the charger pushes these at once, and csms raises them to the operators.
CRITICAL_CHARGER_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    user_id: int | None
    username: str | None
    role: str | None
    method: str
    path: str
    status_code: int
    remote_address: str | None


def record_security_event(
    writer: BatchWriter,
    *,
    kind: str,
    now: datetime,
    charge_point_id: str | None = None,
    remote_address: str | None = None,
    detail: str | None = None,
    count: int = 1,
) -> None:
    """Kept in the background: a flood of refused connections must not queue up behind the database."""
    row = _event_row(
        source="csms",
        kind=kind,
        created_at=now,
        recorded_at=now,
        charge_point_id=charge_point_id,
        remote_address=remote_address,
        detail=detail,
        count=count,
    )
    writer.write_soon((_INSERT_EVENT, [row]))


# Within a period, one address gets rows of its own for this many charger ids; attempts for further ids
# are counted in one row without an id (a scan of ids would otherwise still write a row per attempt).
IDS_PER_ADDRESS = 10
# Keys held per period at most; beyond, attempts are counted in one row per kind.
MAX_KEYS = 1_000

_Key = tuple[str, str | None, str | None]  # kind, charge point id, remote address


@dataclass(slots=True)
class _Repeats:
    detail: str | None
    last_at: datetime
    count: int = 0


class RepeatedEvents:
    """Security events that an attacker can repeat at will (refused or throttled connection attempts).

    The first event of a kind, charger id and address in a period is written at once, as before; the
    repeats of that period are counted in memory and written as one row, with their count, when the
    period ends (`flush`, run every period and at shutdown).
    """

    def __init__(self, writer: BatchWriter, *, clock: Callable[[], datetime], period: float) -> None:
        self._writer = writer
        self._clock = clock
        self._period = period
        self._repeats: dict[_Key, _Repeats] = {}
        self._ids_per_address: dict[tuple[str, str | None], set[str | None]] = {}

    def record(self, *, kind: str, charge_point_id: str | None, remote_address: str | None, detail: str) -> None:
        now = self._clock()
        key = self._key(kind, charge_point_id, remote_address)
        repeats = self._repeats.get(key)
        if repeats is not None:
            repeats.count += 1
            repeats.detail, repeats.last_at = detail, now
            return
        self._repeats[key] = _Repeats(detail, now)
        record_security_event(
            self._writer, kind=kind, now=now, charge_point_id=key[1], remote_address=key[2], detail=detail
        )

    def _key(self, kind: str, charge_point_id: str | None, remote_address: str | None) -> _Key:
        key = (kind, charge_point_id, remote_address)
        if key in self._repeats:
            return key
        if len(self._repeats) >= MAX_KEYS:
            return (kind, None, None)
        if remote_address is None:
            return key  # an event of a connected charger: its id is proven, not one of many an address tries
        ids = self._ids_per_address.setdefault((kind, remote_address), set())
        if charge_point_id not in ids and len(ids) >= IDS_PER_ADDRESS:
            return (kind, None, remote_address)
        ids.add(charge_point_id)
        return key

    def flush(self) -> None:
        """Write the repeats counted so far, one row per key, and start a new period."""
        repeats, self._repeats, self._ids_per_address = self._repeats, {}, {}
        for (kind, charge_point_id, remote_address), counted in repeats.items():
            if counted.count:
                record_security_event(
                    self._writer,
                    kind=kind,
                    now=counted.last_at,
                    charge_point_id=charge_point_id,
                    remote_address=remote_address,
                    detail=counted.detail,
                    count=counted.count,
                )

    async def run_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            self.flush()


async def record_charger_event(
    writer: BatchWriter,
    *,
    charge_point_id: str,
    kind: str,
    tech_info: str | None,
    timestamp: datetime,
    now: datetime,
) -> bool:
    """A charger's SecurityEventNotification, kept with the charger's own timestamp; True if it is critical.

    Awaited, not in the background: the answer tells the charger the event is received, and one
    acknowledged and then refused by the database would be lost for good.
    """
    row = _event_row(
        source=CHARGER,
        kind=kind,
        created_at=timestamp,
        recorded_at=now,
        charge_point_id=charge_point_id,
        remote_address=None,
        detail=tech_info,
        count=1,
    )
    await writer.write((_INSERT_EVENT, [row]))
    return kind in CRITICAL_CHARGER_EVENTS


def _event_row(
    *,
    source: str,
    kind: str,
    created_at: datetime,
    recorded_at: datetime,
    charge_point_id: str | None,
    remote_address: str | None,
    detail: str | None,
    count: int,
) -> dict[str, object]:
    return {
        "source": source,
        "kind": kind,
        "charge_point_id": charge_point_id,
        "remote_address": remote_address,
        "detail": detail,
        "count": count,
        "created_at": created_at,
        "recorded_at": recorded_at,
    }


def record_audit(writer: BatchWriter, entry: AuditEntry, *, now: datetime) -> None:
    row = {
        "user_id": entry.user_id,
        "username": entry.username,
        "role": entry.role,
        "method": entry.method,
        "path": escape_unstorable(entry.path)[:512],  # any path that was asked for, as it was asked
        "status_code": entry.status_code,
        "remote_address": entry.remote_address,
        "created_at": now,
    }
    writer.write_soon((_INSERT_AUDIT, [row]))


async def list_security_events(
    session: AsyncSession,
    *,
    charge_point_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[SecurityEvent]:
    query = select(SecurityEvent)
    if charge_point_id is not None:
        query = query.where(SecurityEvent.charge_point_id == charge_point_id)
    if kind is not None:
        query = query.where(SecurityEvent.kind == kind)
    if before_id is not None:
        query = query.where(SecurityEvent.id < before_id)
    return list((await session.scalars(query.order_by(SecurityEvent.id.desc()).limit(limit))).all())


async def list_audit_records(
    session: AsyncSession, *, user_id: int | None = None, limit: int = 100, before_id: int | None = None
) -> list[AuditRecord]:
    query = select(AuditRecord)
    if user_id is not None:
        query = query.where(AuditRecord.user_id == user_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list((await session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit))).all())


class SecurityEventRetention:
    """Deletes security events csms recorded more than `max_age` ago, in small batches, every interval."""

    def __init__(
        self, writer: BatchWriter, *, clock: Callable[[], datetime], max_age: timedelta, batch_size: int = 500
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._max_age = max_age
        self._batch_size = batch_size

    async def run_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.apply()
            except DATABASE_UNREACHABLE as error:
                reason = type(error).__name__
                logger.warning("security event retention skipped: the database is unreachable (%s)", reason)

    async def apply(self) -> int:
        """One pass: the events deleted."""
        expired = (
            select(_EVENTS.c.id)
            .where(_EVENTS.c.recorded_at < self._clock() - self._max_age)
            .order_by(_EVENTS.c.id)
            .limit(self._batch_size)
        )
        deleted = await delete_in_batches(self._writer, _EVENTS, expired)
        if deleted:
            logger.info("security event retention deleted %d events", deleted)
        return deleted
