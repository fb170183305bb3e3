"""Log lines as JSON objects (one per line) or text, each carrying the request or charger it is about."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

# Set for the duration of an HTTP request (middleware.py) and of a charger's OCPP session (ocpp/endpoint.py).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
charge_point_id: ContextVar[str | None] = ContextVar("charge_point_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ids in context, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in (("request_id", request_id.get()), ("charge_point_id", charge_point_id.get())):
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(*, level: str, log_format: LogFormat) -> None:
    """The root logger's one handler on stderr; uvicorn's loggers propagate to it in JSON mode."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
