"""The one place that reads the wall clock; rules take `now` as an argument."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


def offset_clock(seconds: float) -> Callable[[], datetime]:
    """`utc_now` moved by `seconds`: a node whose own clock is off (CSMS_CLOCK_OFFSET_SECONDS, for tests)."""
    if not seconds:
        return utc_now
    offset = timedelta(seconds=seconds)
    return lambda: utc_now() + offset


def parse_ocpp_timestamp(value: str) -> datetime:
    """Parse an OCPP dateTime (RFC 3339); a value without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_ocpp_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
