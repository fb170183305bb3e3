"""What 2.x stations report in NotifyEvent: kept as the station's event log, read back by operators.

A station reports a monitor that tripped (and its clearing), a hard-wired fault or a periodic reading as
an event (2.0.1 N07/N08), several to a message and in several messages (seqNo, tbc) when it has many.
Each event is kept once, by the station's eventId and timestamp, so a NotifyEvent sent again after a
lost answer adds nothing; only new events are announced (live `station_event`, and webhooks of that
kind, services/session_watch.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import StationEvent
from csms.services.monitoring import ComponentVariable

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    """One eventData of a NotifyEvent."""

    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    notification_type: str
    variable: ComponentVariable
    cause: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    cleared: bool = False
    transaction_id: str | None = None
    variable_monitoring_id: int | None = None

    def fields(self) -> dict[str, Any]:
        """The event as a live event's or webhook's fields."""
        return {
            "event_id": self.event_id,
            "timestamp": self.timestamp.isoformat(),
            "trigger": self.trigger,
            "actual_value": self.actual_value,
            "notification_type": self.notification_type,
            "cause": self.cause,
            "tech_code": self.tech_code,
            "tech_info": self.tech_info,
            "cleared": self.cleared,
            "transaction_id": self.transaction_id,
            "variable_monitoring_id": self.variable_monitoring_id,
            **self.variable.fields(),
        }


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which of a station's events to list: all when every field is None."""

    trigger: str | None = None
    cleared: bool | None = None
    component_name: str | None = None
    variable_name: str | None = None


async def record_events(
    session: AsyncSession,
    charge_point_id: str,
    events: Sequence[ReportedEvent],
    *,
    seq_no: int,
    generated_at: datetime,
    now: datetime,
) -> list[ReportedEvent]:
    """Keep one NotifyEvent's events; those csms did not have yet."""
    rows = {
        (event.event_id, event.timestamp): {
            "charge_point_id": charge_point_id,
            **_columns(event),
            "seq_no": seq_no,
            "generated_at": generated_at,
            "received_at": now,
        }
        for event in events
    }
    if not rows:
        return []
    statement = _insert_new(session.get_bind().dialect.name).values(list(rows.values()))
    added = await session.execute(statement.returning(StationEvent.event_id, StationEvent.timestamp))
    new = {(event_id, timestamp) for event_id, timestamp in added}
    await session.commit()
    return [event for event in events if (event.event_id, event.timestamp) in new]


async def list_events(
    session: AsyncSession,
    charge_point_id: str,
    *,
    only: EventFilter,
    limit: int = 100,
    before_id: int | None = None,
) -> list[StationEvent]:
    """The station's events, newest first; page back with `before_id`."""
    query = select(StationEvent).where(StationEvent.charge_point_id == charge_point_id)
    if before_id is not None:
        query = query.where(StationEvent.id < before_id)
    if only.trigger is not None:
        query = query.where(StationEvent.trigger == only.trigger)
    if only.cleared is not None:
        query = query.where(StationEvent.cleared.is_(only.cleared))
    if only.component_name is not None:
        query = query.where(StationEvent.component_name == only.component_name)
    if only.variable_name is not None:
        query = query.where(StationEvent.variable_name == only.variable_name)
    query = query.order_by(StationEvent.id.desc()).limit(min(max(limit, 1), MAX_PAGE))
    return list((await session.scalars(query)).all())


def _columns(event: ReportedEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "trigger": event.trigger,
        "cause": event.cause,
        "actual_value": event.actual_value,
        "tech_code": event.tech_code,
        "tech_info": event.tech_info,
        "cleared": event.cleared,
        "transaction_id": event.transaction_id,
        "variable_monitoring_id": event.variable_monitoring_id,
        "notification_type": event.notification_type,
        **event.variable.fields(),
    }


def _insert_new(dialect_name: str) -> Insert:
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    return dialect_insert(StationEvent).on_conflict_do_nothing(
        index_elements=[StationEvent.charge_point_id, StationEvent.event_id, StationEvent.timestamp]
    )
